package main

import (
	"cmp"
	"context"
	"io"
	"time"

	"github.com/leadbridge/leadbridge/cmd/config"
	enrichbench "github.com/leadbridge/leadbridge/enrich/bench"
)

const benchE2ESummary = `Measure freshness on a real broker: ingest and --members enrich members (the
production wiring, in this process) on fresh topics, with the Aurora sandbox as
API at --latency and no quota. After a warm-up that waits for the group to form, webhooks go
to ingest at --rate per second for --duration, each a GET lead_changed for a
lead of its own. A webhook's freshness is the time from sending it to its lead
record being readable (read_committed) on the leads topic. Reports p50, p90,
p99 and max (goal: p99 <= 250 ms at 1,000/s with a 50 ms API and 2 members).
Exits 1 when a webhook was not answered 200 or has no lead record after 60 s.`

func runBenchE2E(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("bench e2e", benchE2ESummary, stdout)
	brokers := fs.String("brokers", cmp.Or(getenv("LEADBRIDGE_KAFKA_BROKERS"), "127.0.0.1:9092"), "Kafka seed brokers, comma separated")
	rate := fs.Float64("rate", 1000, "webhooks per second")
	duration := fs.Duration("duration", 20*time.Second, "length of the measured load")
	concurrency := fs.Int("concurrency", 64, "webhooks in flight at most")
	members := fs.Int("members", 2, "enrich members in the group")
	latency := fs.Duration("latency", 50*time.Millisecond, "Aurora API latency")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	if *rate <= 0 || *duration <= 0 || *concurrency < 1 || *members < 1 || *latency < 0 {
		return usagef("--rate, --duration, --concurrency and --members must be positive, --latency not negative")
	}
	e := enrichbench.E2E{Rate: *rate, Duration: *duration, Concurrency: *concurrency, Members: *members, Latency: *latency}
	return e.Do(ctx, config.SplitList(*brokers), stdout)
}
