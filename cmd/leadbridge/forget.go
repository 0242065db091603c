package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/leadbridge/leadbridge/enrich/operate"
)

const forgetSummary = `GDPR erasure of leads, by lead key (aurora:<tenant>:<lead id>,
leadpro:<account>:<id>): leadbridge forget <key>... or --file F (one key per
line, # comments). Per key, in one transaction: an erasure event on the raw
topic, in order with the lead's webhooks, and an audit record (key, time, no
PII) on the erasures topic; one audit line per key on stdout. The enrich
group then writes the tombstone (null value) on the leads topic and marks the
key erased, so later webhooks, replays and redrives for it produce nothing.
--unforget lifts an erasure (no tombstone). A malformed key, or one whose
tenant or account is not configured, is reported and the others proceed;
the exit status is then 1.`

func runForget(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("forget <lead key>...", forgetSummary, stdout)
	path := configFlag(fs, getenv)
	file := fs.String("file", "", "read the keys from file `F`, one per line")
	unforget := fs.Bool("unforget", false, "lift the erasure of the keys")
	helped, keys, err := parseFlagsAnywhere(fs, args)
	if helped || err != nil {
		return err
	}
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			return usagef("--file: %v", err)
		}
		more, err := operate.ReadKeys(f)
		f.Close()
		if err != nil {
			return usagef("--file: %v", err)
		}
		keys = append(keys, more...)
	}
	if len(keys) == 0 && *file != "" {
		return usagef("--file %s holds no lead key (one a line; # starts a comment)", *file)
	}
	if len(keys) == 0 {
		return usagef("forget needs lead keys or --file (run 'leadbridge forget --help')")
	}
	cfg, opts, _, err := setupKafka(*path, getenv, "forget")
	if err != nil {
		return err
	}
	rep, err := operate.Forget(ctx, keys, operate.ForgetOptions{Kafka: opts, Topics: wire.OperateTopics(cfg),
		Unforget: *unforget, Known: cfg.Knows})
	rep.WriteText(stdout)
	if err != nil {
		return err
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("%d of %d key(s) failed", len(rep.Problems), len(keys))
	}
	return nil
}
