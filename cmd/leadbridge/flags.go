package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/wire"
)

// The command preamble, written once: flags, configuration, logger.

// flags is a command's flag set and its --help text.
type flags struct {
	*flag.FlagSet
	help func()
}

// newFlags returns the flag set of `leadbridge <name>`. --help prints the
// usage to stdout; a wrong flag is a one-line usage error (parseFlags).
func newFlags(name, summary string, stdout io.Writer) *flags {
	fs := flag.NewFlagSet("leadbridge "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // printed by parseFlags on --help only, never on an error
	return &flags{FlagSet: fs, help: func() {
		fmt.Fprintf(stdout, "usage: leadbridge %s [flags]\n\n%s\n\nflags:\n", name, summary)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}}
}

// isSet reports whether the command line gave flag name.
func (f *flags) isSet(name string) (set bool) {
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// parseFlags parses args; helped means --help was printed and the command
// should return nil. Positional arguments are refused.
func parseFlags(fs *flags, args []string) (helped bool, err error) {
	helped, pos, err := parseFlagsAnywhere(fs, args)
	if err == nil && !helped && len(pos) > 0 {
		err = usagef("unexpected argument %q (run '%s --help')", pos[0], fs.Name())
	}
	return helped, err
}

// parseFlagsAnywhere parses flags placed before, between or after the
// positional arguments (Go's flag package stops at the first positional) and
// returns the positionals; after "--" everything is positional.
func parseFlagsAnywhere(fs *flags, args []string) (helped bool, pos []string, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.help()
				return true, nil, nil
			}
			return false, nil, usagef("%v (run '%s --help')", err, fs.Name())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return false, pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return false, append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// configFlag adds --config to fs, defaulting to $LEADBRIDGE_CONFIG.
func configFlag(fs *flags, getenv func(string) string) *string {
	return fs.String("config", getenv("LEADBRIDGE_CONFIG"), "YAML configuration `file` (default $LEADBRIDGE_CONFIG; without one, LEADBRIDGE_* variables)")
}

// need says what a command requires of the configuration.
type need struct {
	webhooks   bool // ingest
	apiTokens  bool // enrich
	configured bool // refuse defaults alone (topics create)
	kafka      bool // a Kafka client: its TLS files are configuration too
}

// loadValid loads and validates the configuration for a command; problems
// are a usage error (exit 2).
func loadValid(path string, getenv func(string) string, n need) (config.Config, error) {
	cfg, err := config.LoadValid(path, getenv, config.Need{Webhooks: n.webhooks, APITokens: n.apiTokens, Configured: n.configured, Kafka: n.kafka})
	if err != nil {
		return cfg, usageError{fmt.Errorf("invalid configuration: %w", err)}
	}
	return cfg, nil
}

// setup is the preamble after the flags: the valid configuration and its logger.
func setup(path string, getenv func(string) string, n need) (config.Config, *zap.Logger, error) {
	cfg, err := loadValid(path, getenv, n)
	if err != nil {
		return cfg, nil, err
	}
	logger, err := wire.NewLogger(cfg.Log.Level)
	return cfg, logger, err
}

// setupKafka is the operator commands' preamble: setup, then the franz-go
// options of a client in role.
func setupKafka(path string, getenv func(string) string, role string) (config.Config, []kgo.Opt, *zap.Logger, error) {
	cfg, logger, err := setup(path, getenv, need{kafka: true})
	if err != nil {
		return cfg, nil, nil, err
	}
	opts, err := wire.KafkaOpts(cfg.Kafka, logger, nil, role)
	return cfg, opts, logger, err
}

// httpURL parses s as an absolute http(s) URL, as probe and sandbox take
// them (simulate.Load.Check checks --url the same way).
func httpURL(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	return u, err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
