package main

import (
	"cmp"
	"context"
	"io"
	"time"

	"github.com/leadbridge/leadbridge/cmd/config"
	enrichbench "github.com/leadbridge/leadbridge/enrich/bench"
)

const benchEnrichSummary = `Measure enrichment on a real broker: a backlog of Aurora lead events on a
fresh raw topic, drained by enrich members (the production wire.Enrich wiring,
in this process) against the Aurora sandbox, until every lead has its record.
Reports drain time, events/s, API calls per event, and the bound it is held
against:
  latency: API latency --latency, no quota; bound = members x max_in_flight / latency
  quota:   --rpm per token over --tenants tokens (the sandbox answers 429 past it);
           bound = API calls / (rpm x tenants / 60 s)
The latency scenario's ratio is given twice: over the whole drain (members
starting, joining the group, fetching) and from the first API call to the
last lead record. The process's CPU time over the drain is given per lead
record; it covers the members, the sandbox and the observer, and
--cpuprofile's label bench=enrich-member tells the members' share.
With --compare (the default) the latency scenario runs exactly-once and
at-least-once and prints the ratio of their events/s: the cost of
transactions. A short drain spreads widely on a shared machine: --rounds N
runs N rounds of both, alternating which goes first, and prints the median.
  poison:  one member; a baseline of --events good leads, then on fresh topics
           --poison leads answering 500 forever, produced first, then the same
           good leads; retry_for --retry-for. Reports the good leads' time with
           poison against the baseline (issue 7's goal: at most 1.2x) and when
           the poison leads reached the DLQ, against retry_for
Events are spread over --latency-leads / --quota-leads leads, so a backlog holds several events per lead
(bursts, duplicate deliveries): enrich serves them with one call each.`

func runBenchEnrich(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("bench enrich", benchEnrichSummary, stdout)
	brokers := fs.String("brokers", cmp.Or(getenv("LEADBRIDGE_KAFKA_BROKERS"), "127.0.0.1:9092"), "Kafka seed brokers, comma separated")
	scenario := fs.String("scenario", "latency,quota", "scenarios to run, comma separated: latency, quota, poison")
	events := fs.Int("events", 10000, "backlog size (raw events)")
	members := fs.Int("members", 2, "enrich members in the group")
	latency := fs.Duration("latency", 100*time.Millisecond, "latency scenario: Aurora API latency")
	latLeads := fs.Int("latency-leads", 0, "latency scenario: distinct leads (default: one per event)")
	rpm := fs.Int("rpm", 90, "quota scenario: requests per minute per API token")
	tenants := fs.Int("tenants", 50, "quota scenario: tenants (one API token each)")
	quotaLeads := fs.Int("quota-leads", 2000, "quota scenario: distinct leads")
	compare := fs.Bool("compare", true, "latency scenario: run it again at-least-once and print the ratio")
	rounds := fs.Int("rounds", 1, "latency scenario with --compare: rounds of both modes, alternating which runs first; prints each round's ratio and the median")
	poison := fs.Int("poison", 100, "poison scenario: leads answering 500 forever")
	retryFor := fs.Duration("retry-for", 30*time.Second, "poison scenario: enrich.retry_for")
	inflight := fs.Int("max-in-flight", config.Default().Enrich.MaxInFlight, "API calls in flight per member")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of each scenario's drain to `PREFIX`.<scenario>.pprof (latency-at-least-once for the comparison; the first round's); the members' samples carry the label bench=enrich-member")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	plan := enrichbench.Plan{Scenarios: config.SplitList(*scenario), Events: *events, Members: *members, InFlight: *inflight,
		Latency: *latency, LatencyLeads: *latLeads, Compare: *compare, Rounds: *rounds,
		RPM: *rpm, Tenants: *tenants, QuotaLeads: *quotaLeads, Poison: *poison, RetryFor: *retryFor, CPUProfile: *cpuprofile}
	if err := plan.Check(); err != nil {
		return usageError{err}
	}
	return plan.Do(ctx, config.SplitList(*brokers), stdout)
}
