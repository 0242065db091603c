package main

import (
	"context"
	"io"
	"strings"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/twmb/franz-go/pkg/kgo"
)

const tailSummary = `Print the records of a topic as they arrive: topic, partition, offset and
timestamp, the key, every header in the order the record carries them (the
CloudEvents ce_* attributes, content-type, DLQ headers, any other), and the
value as indented JSON, or as text when it is not JSON.

<topic> is a topic name, or raw, leads or dlq for the configured names
(topics.raw, topics.leads, topics.dlq; LEADBRIDGE_TOPIC_*).

It is a direct consumer of every partition: no consumer group, nothing
committed, so it never takes records from enrich. It reads committed records
only (read_committed, as downstream reads leads): an aborted attempt of an
enrich transaction is not shown. It runs until interrupted,
until -n records were printed, or until --timeout passed without a record
(then it exits 1 if -n records had not arrived yet).`

func runTail(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("tail <topic>", tailSummary, stdout)
	path := configFlag(fs, getenv)
	fromBeginning := fs.Bool("from-beginning", true, "start at the oldest record still in each partition")
	fromEnd := fs.Bool("from-end", false, "start after the newest record: print only what arrives from now on")
	limit := fs.Int("n", 0, "stop after `N` records (0: no limit)")
	idle := fs.Duration("timeout", 0, "stop when no record arrived for this `duration` (0: never)")
	helped, pos, err := parseFlagsAnywhere(fs, args)
	if helped || err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usagef("tail needs a topic: leadbridge tail [flags] <topic|raw|leads|dlq>")
	case len(pos) > 1:
		return usagef("tail takes one topic, got %d: %s", len(pos), strings.Join(pos, " "))
	case *limit < 0:
		return usagef("-n must not be negative")
	case *idle < 0:
		return usagef("--timeout must not be negative")
	}
	if *fromEnd && fs.isSet("from-beginning") && *fromBeginning {
		return usagef("give --from-beginning or --from-end, not both")
	}
	start := kgo.NewOffset().AtStart()
	if *fromEnd || !*fromBeginning {
		start = kgo.NewOffset().AtEnd()
	}

	cfg, err := loadValid(*path, getenv, need{kafka: true})
	if err != nil {
		return err
	}
	topic := cfg.Topics.Resolve(pos[0])
	if !config.ValidTopic(topic) {
		return usagef("%q is not a valid topic name", topic)
	}
	logger, err := wire.NewLogger(cfg.Log.Level)
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck // nothing useful to do with a failed sync of stderr
	return wire.Tail(ctx, cfg, topic, start, *limit, *idle, stdout, logger)
}
