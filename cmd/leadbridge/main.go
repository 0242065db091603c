package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "leadbridge:", oneLine(err))
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// runFunc is a command: it gets its own arguments (after its name).
type runFunc func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error

// command is one subcommand: a line of the table below.
type command struct {
	summary string
	run     runFunc
}

// commands is the command table. Adding a command is a file with its run
// function and one line here.
func commands() map[string]command {
	return map[string]command{
		"ingest":   {"serve the webhook endpoints, health and metrics", runIngest},
		"enrich":   {"run one member of the enrichment consumer group", runEnrich},
		"topics":   {"topics create: create the six topics (raw, leads, DLQ, erasures, state, retry); report drift", runTopics},
		"dev":      {"everything in one process on an in-process broker, for development", runDev},
		"simulate": {"send authenticated Aurora or LeadPro webhooks to an ingest, one or many", runSimulate},
		"tail":     {"print a topic's records as they arrive: key, CloudEvents headers, JSON value", runTail},
		"sandbox":  {"sandbox aurora: a local Aurora API (leads, Retrieve Lead, webhooks that fire)", runSandbox},
		"bench":    {"bench ingest, bench enrich, bench e2e: ingest against bare and naive servers, enrichment against its bounds, webhook-to-record freshness", runBench},
		"probe":    {"GET a URL, exit 0 on 2xx: the health check of shell-less containers", runProbe},
		"version":  {"print version, commit and Go version", runVersion},
		"aurora":   {"aurora subscriptions sync|list: provision Aurora webhook subscriptions for every tenant", runAurora},
		"status":   {"the enrich group from the broker: members, raw lag, DLQ by reason, newest lead", runStatus},
		"dlq":      {"dlq redrive: put matching DLQ records back on raw, exactly once", runDLQ},
		"forget":   {"GDPR erasure of lead keys: an erasure event through enrich (tombstone, erased flag), audit record", runForget},
		"replay":   {"re-enrich a time range of raw: each key's newest raw record goes through enrich again", runReplay},
	}
}

// run is the whole program, testable end to end: main only wires the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) < 2 {
		usage(stdout, "leadbridge", commands())
		return usagef("no command given")
	}
	return dispatch(ctx, "leadbridge", commands(), args[1:], getenv, stdout)
}

// dispatch runs the subcommand args[0] of table: `leadbridge X` and groups
// of commands such as `leadbridge bench X` alike.
func dispatch(ctx context.Context, name string, table map[string]command, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("usage: %s %s [flags] (run '%s --help')", name, strings.Join(slices.Sorted(maps.Keys(table)), "|"), name)
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout, name, table)
		return nil
	}
	c, ok := table[args[0]]
	if !ok {
		return usagef("unknown command %q (run '%s --help')", args[0], name)
	}
	return c.run(ctx, args[1:], getenv, stdout)
}

func usage(w io.Writer, name string, table map[string]command) {
	fmt.Fprintf(w, "usage: %s <command> [--config FILE] [flags]\n\ncommands:\n", name)
	for _, n := range slices.Sorted(maps.Keys(table)) {
		fmt.Fprintf(w, "  %-9s %s\n", n, table[n].summary)
	}
	fmt.Fprintln(w, "\nThe configuration comes from --config or LEADBRIDGE_CONFIG, else from LEADBRIDGE_* environment variables.")
	fmt.Fprintf(w, "Run %s <command> --help for its flags.\n", name)
}

// usageError is a wrong command, flag or configuration: exit status 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// oneLine joins a multi-error into one line: every problem, one line.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
