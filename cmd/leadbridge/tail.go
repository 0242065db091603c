package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const tailSummary = `Print the records of a topic as they arrive: topic, partition, offset and
timestamp, the key, every header in the order the record carries them (the
CloudEvents ce_* attributes, content-type, DLQ headers, any other), and the
value as indented JSON, or as text when it is not JSON.

<topic> is a topic name, or raw, leads or dlq for the configured names
(topics.raw, topics.leads, topics.dlq; LEADBRIDGE_TOPIC_*).

It is a direct consumer of every partition: no consumer group, nothing
committed, so it never takes records from enrich. It runs until interrupted,
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
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if *fromEnd && explicit["from-beginning"] && *fromBeginning {
		return usagef("give --from-beginning or --from-end, not both")
	}
	start := kgo.NewOffset().AtStart()
	if *fromEnd || !*fromBeginning {
		start = kgo.NewOffset().AtEnd()
	}

	cfg, err := loadValid(*path, getenv, need{})
	if err != nil {
		return err
	}
	topic := tailTopic(cfg, pos[0])
	if !config.ValidTopic(topic) {
		return usagef("%q is not a valid topic name", topic)
	}
	logger, err := wire.NewLogger(cfg.Log.Level)
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck // nothing useful to do with a failed sync of stderr
	opts, err := wire.KafkaOpts(cfg.Kafka, logger, nil, "tail")
	if err != nil {
		return err
	}
	client, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(start))...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer client.Close()

	// A direct consumer of a missing topic waits for it forever, quietly:
	// say so at once instead.
	mctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	topics, err := kadm.NewClient(client).ListTopics(mctx, topic)
	switch {
	case ctx.Err() != nil:
		return nil
	case err != nil:
		return fmt.Errorf("look up topic %s on %s: %w", topic, strings.Join(cfg.Kafka.Brokers, ","), err)
	case !topics.Has(topic) || topics[topic].Err != nil:
		return fmt.Errorf("topic %s does not exist on %s (raw, leads and dlq stand for %s, %s and %s)",
			topic, strings.Join(cfg.Kafka.Brokers, ","), cfg.Topics.Raw, cfg.Topics.Leads, cfg.Topics.DLQ)
	}
	return tailRecords(ctx, client, stdout, *limit, *idle)
}

// tailTopic maps the aliases raw, leads and dlq to the configured topic names.
func tailTopic(cfg config.Config, name string) string {
	switch name {
	case "raw":
		return cfg.Topics.Raw
	case "leads":
		return cfg.Topics.Leads
	case "dlq":
		return cfg.Topics.DLQ
	}
	return name
}

// tailRecords prints what client consumes until ctx ends, limit records were
// printed (0: no limit), or idle passed without one (0: never).
func tailRecords(ctx context.Context, client *kgo.Client, w io.Writer, limit int, idle time.Duration) error {
	printed := 0
	for {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if idle > 0 {
			pctx, cancel = context.WithTimeout(ctx, idle)
		}
		fetches := client.PollFetches(pctx)
		timedOut := pctx.Err() != nil
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil // interrupted: a normal way to stop tailing
		}
		got := 0
		var ferr error
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = fmt.Errorf("fetch %s partition %d: %w", topic, partition, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		for it := fetches.RecordIter(); !it.Done(); {
			if err := writeRecord(w, it.Next()); err != nil {
				return err
			}
			got++
			printed++
			if limit > 0 && printed >= limit {
				return nil
			}
		}
		if got == 0 && timedOut {
			if limit > 0 {
				return fmt.Errorf("no record for %s after %d of %d", idle, printed, limit)
			}
			return nil
		}
	}
}

// writeRecord prints one record for a human: a header line, the key, the
// headers in record order, and the value (indented JSON, else text; bytes
// that are not printable UTF-8 are Go-quoted so a terminal stays sane).
func writeRecord(w io.Writer, r *kgo.Record) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "--- %s partition %d offset %d at %s\n", r.Topic, r.Partition, r.Offset,
		r.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	if r.Key == nil {
		b.WriteString("key: (none)\n")
	} else {
		fmt.Fprintf(&b, "key: %s\n", printable(r.Key))
	}
	if len(r.Headers) > 0 {
		b.WriteString("headers:\n")
		for _, h := range r.Headers {
			fmt.Fprintf(&b, "  %s: %s\n", printable([]byte(h.Key)), printable(h.Value))
		}
	}
	switch {
	case r.Value == nil:
		b.WriteString("value: null (a tombstone)\n")
	case len(r.Value) == 0:
		b.WriteString("value: (empty)\n")
	case json.Valid(r.Value):
		b.WriteString("value:\n")
		if err := json.Indent(&b, bytes.TrimSpace(r.Value), "", "  "); err != nil {
			return fmt.Errorf("indent value: %w", err) // cannot happen: json.Valid said yes
		}
		b.WriteByte('\n')
	default:
		fmt.Fprintf(&b, "value (not JSON, %d bytes):\n%s\n", len(r.Value), printable(r.Value))
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// printable returns p as text when it is valid UTF-8 without control
// characters (newlines and tabs allowed), else Go-quoted.
func printable(p []byte) string {
	s := string(p)
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\t'
	}) {
		return strconv.Quote(s)
	}
	return s
}
