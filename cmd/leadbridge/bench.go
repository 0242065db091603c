package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/ingest/bench"
	"github.com/leadbridge/leadbridge/schema"
)

const benchSummary = `Measure ingest's throughput and latency on a real Kafka broker, next to this
machine's ceiling: a bare net/http server that answers 200 at once.

Everything but the broker runs in this one process, on loopback:
  - ingest as "leadbridge ingest" runs it (the same code: wire.Ingest, so the
    same kgo client options, acks=all, idempotence, no linger; Echo, auth,
    CloudEvents, Prometheus metrics, the access log encoded at info level and
    discarded). A 200 means the broker acknowledged the record. It publishes to
    a new topic leadbridge-bench-<random> with --partitions partitions and the
    raw topic's settings, deleted at the end;
  - the bare server: a net/http handler that reads the body and answers 200 with
    a {"id":...} body as long as ingest's;
  - the load generator of "leadbridge simulate": --concurrency workers, each
    sending its next request when it has read the previous answer (closed
    loop), over keep-alive connections.
For each --provider, both servers first get --warmup requests that are not
measured; then -n measured requests each, in --rounds rounds that alternate
bare and ingest, so that whatever else runs on the machine weighs on both
alike. The same deliveries go to both: aurora: GET lead_created with a header
token and a new lead_id per delivery; leadpro: POST lead.created with its
HS256 JWT. Deliveries are built and signed before the runs (at most 10000
distinct ones, reused in turn), so building them is not measured.

Reported per server and provider, over its rounds: requests, 200 answers,
other answers and failures (errors), req/s (requests over the summed wall time
of the rounds, from first request to last answer), p50 and p99 latency (from
sending a request to having read its answer); then ingest/bare throughput per
provider (goal: at least 0.5x), and the records on the topic against the 200s
ingest gave (warmup included; fewer records would be a lost acknowledged
event). The load generator, both servers and usually the broker share this
machine's CPUs (GOMAXPROCS applies to this process): the numbers describe the
machine, not ingest alone. Exits 1 when any request was not answered 200.`

// benchCommands are the benchmarks: leadbridge bench <name>.
func benchCommands() map[string]command {
	return map[string]command{
		"ingest": {"ingest throughput and latency on a real broker, next to a bare HTTP server", runBenchIngest},
		"enrich": {"enrichment throughput against the API latency bound and the aggregate quota", runBenchEnrich},
	}
}

func runBench(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmds := benchCommands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, "usage: leadbridge bench <benchmark> [flags]\n\nbenchmarks:")
		for _, name := range slices.Sorted(maps.Keys(cmds)) {
			fmt.Fprintf(stdout, "  %-8s %s\n", name, cmds[name].summary)
		}
		fmt.Fprintln(stdout, "\nRun leadbridge bench <benchmark> --help for what it measures and its flags.")
		if len(args) == 0 {
			return usagef("no benchmark given (see leadbridge bench --help)")
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		return usagef("unknown benchmark %q (see leadbridge bench --help)", args[0])
	}
	return c.run(ctx, args[1:], getenv, stdout)
}

func runBenchIngest(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("bench ingest", benchSummary, stdout)
	brokers := fs.String("brokers", cmp.Or(getenv("LEADBRIDGE_KAFKA_BROKERS"), "127.0.0.1:9092"),
		"Kafka seed brokers, comma separated; $LEADBRIDGE_KAFKA_BROKERS sets the default")
	n := fs.Int("n", 60000, "measured requests per server and provider")
	warmup := fs.Int("warmup", 3000, "requests per server and provider sent before measuring (connections, metadata, producer IDs)")
	concurrency := fs.Int("concurrency", 64, "requests in flight at once")
	partitions := fs.Int("partitions", int(config.Default().Topics.Partitions), "partitions of the bench topic")
	providers := fs.String("provider", "aurora,leadpro", "providers to run, comma separated: aurora, leadpro")
	rounds := fs.Int("rounds", 3, "measure in this many rounds that alternate bare and ingest (-n is split among them)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of each measured round to `PREFIX`.<server>-<provider>.<round>.pprof")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	if *n < 1 {
		bad("-n must be at least 1")
	}
	if *warmup < 0 {
		bad("--warmup must not be negative")
	}
	if *concurrency < 1 {
		bad("--concurrency must be at least 1")
	}
	if *rounds < 1 || *rounds > max(*n, 1) {
		bad("--rounds must be between 1 and -n")
	}
	if *partitions < 1 || *partitions > 1000 {
		bad("--partitions must be between 1 and 1000")
	}
	provs := config.SplitList(*providers)
	for _, p := range provs {
		if p != schema.ProviderAurora && p != schema.ProviderLeadPro {
			bad("--provider: %q is not aurora or leadpro", p)
		}
	}
	if len(provs) == 0 {
		bad("--provider: name at least one of aurora, leadpro")
	}
	cfg := bench.Config(config.SplitList(*brokers), int32(*partitions))
	if err := cfg.Validate(config.Need{Webhooks: true}); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return usageError{errors.Join(problems...)}
	}
	b := &bench.Ingest{Cfg: cfg, N: *n, Warmup: *warmup, Concurrency: *concurrency, Rounds: *rounds, CPUProfile: *cpuprofile,
		Out: stdout, Logger: bench.Logger()}
	return b.Run(ctx, provs)
}
