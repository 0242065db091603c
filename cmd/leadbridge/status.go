package main

import (
	"context"
	"fmt"
	"io"

	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/leadbridge/leadbridge/enrich/operate"
)

const statusSummary = `The enrich group seen from the broker alone (no member is contacted): its
members and their raw partitions; per raw partition the committed offset, the
high watermark, the lag and the age of the oldest uncommitted record; the DLQ's
size and its newest records by reason; the time of the newest lead record.
Exit 0 when healthy, 1 when the total lag exceeds --max-lag.`

func runStatus(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("status", statusSummary, stdout)
	path := configFlag(fs, getenv)
	asJSON := fs.Bool("json", false, "print one JSON object")
	maxLag := fs.Int64("max-lag", -1, "exit 1 when the raw lag exceeds `N` records (-1: no limit)")
	scan := fs.Int("dlq-scan", 1000, "read at most `N` of the newest DLQ records to count them by reason")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	if *scan < 1 {
		return usagef("--dlq-scan must be at least 1 (run 'leadbridge status --help')")
	}
	if *maxLag < -1 {
		return usagef("--max-lag must be at least -1, for no limit (run 'leadbridge status --help')")
	}
	cfg, opts, _, err := setupKafka(*path, getenv, "status")
	if err != nil {
		return err
	}
	st, err := operate.ReadStatus(ctx, operate.StatusOptions{Kafka: opts, Group: cfg.Enrich.GroupID,
		Topics: wire.OperateTopics(cfg), DLQScan: *scan, MaxLag: *maxLag})
	if err != nil {
		return err
	}
	if *asJSON {
		if err := st.WriteJSON(stdout); err != nil {
			return err
		}
	} else {
		st.WriteText(stdout)
	}
	if !st.Healthy {
		return fmt.Errorf("raw lag %d exceeds --max-lag %d", st.Lag, *maxLag)
	}
	return nil
}
