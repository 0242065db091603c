package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
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

// usageError is a wrong command, flag or configuration: exit status 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// oneLine joins a multi-error into one line: every problem, one line.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// command is one subcommand. run gets its own arguments (after the name).
type command struct {
	summary string
	run     func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"ingest":   {"serve the webhook endpoints, health and metrics", runIngest},
		"enrich":   {"run one member of the enrichment consumer group", runEnrich},
		"topics":   {"topics create: create the raw, leads and DLQ topics; report drift", runTopics},
		"dev":      {"everything in one process on an in-process broker, for development", runDev},
		"simulate": {"send authenticated Aurora or LeadPro webhooks to an ingest, one or many", runSimulate},
		"tail":     {"print a topic's records as they arrive: key, CloudEvents headers, JSON value", runTail},
		"sandbox":  {"sandbox aurora: a local Aurora API (leads, Retrieve Lead, webhooks that fire)", runSandbox},
		"bench":    {"bench ingest, bench enrich: throughput against a bare server, the API latency bound and the quota", runBench},
		"probe":    {"GET a URL, exit 0 on 2xx: the health check of shell-less containers", runProbe},
		"version":  {"print version, commit and Go version", runVersion},
	}
}

// run is the whole program, testable end to end: main only wires the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmds := commands()
	if len(args) < 2 || args[1] == "-h" || args[1] == "--help" || args[1] == "help" {
		usage(stdout, cmds)
		if len(args) < 2 {
			return usagef("no command given")
		}
		return nil
	}
	c, ok := cmds[args[1]]
	if !ok {
		return usagef("unknown command %q (see leadbridge --help)", args[1])
	}
	return c.run(ctx, args[2:], getenv, stdout)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: leadbridge <command> [--config FILE] [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nThe configuration comes from --config or LEADBRIDGE_CONFIG, else from LEADBRIDGE_* environment variables.")
	fmt.Fprintln(w, "Run leadbridge <command> --help for its flags.")
}

// newFlags returns a flag set that prints its usage to stdout on --help and
// reports wrong flags as usage errors instead of exiting.
func newFlags(name, summary string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("leadbridge "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "usage: leadbridge %s [flags]\n\n%s\n\nflags:\n", name, summary)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parseFlags parses args; errHelp means --help was printed and the command
// should return nil.
func parseFlags(fs *flag.FlagSet, args []string) (helped bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // fs.Usage already printed it
			return true, nil
		}
		return false, usageError{err}
	}
	if fs.NArg() > 0 {
		return false, usagef("unexpected argument %q", fs.Arg(0))
	}
	return false, nil
}

// configFlag adds --config to fs, defaulting to $LEADBRIDGE_CONFIG.
func configFlag(fs *flag.FlagSet, getenv func(string) string) *string {
	return fs.String("config", getenv("LEADBRIDGE_CONFIG"), "YAML configuration `file` (default $LEADBRIDGE_CONFIG; without one, LEADBRIDGE_* variables)")
}

// loadValid loads and validates the configuration for a command; problems
// are a usage error (exit 2).
func loadValid(path string, getenv func(string) string, n need) (Config, error) {
	cfg, err := loadConfig(path, getenv)
	if !errors.Is(err, errUnreadable) {
		// report what loading found and what validation finds, all at once
		err = errors.Join(err, cfg.Validate(n))
	}
	if err != nil {
		return cfg, usageError{fmt.Errorf("invalid configuration: %w", err)}
	}
	return cfg, nil
}
