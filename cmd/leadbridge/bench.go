package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/leadbridge/leadbridge/ingest/bench"
)

const benchSummary = `Measure ingest's throughput, latency, CPU and memory on a real Kafka broker,
next to two references: this machine's ceiling, a bare net/http server that
answers 200 at once, and the naive handler a competent engineer writes in an
afternoon.

Each server runs as a process of its own (this binary, "bench serve"), so its
CPU time and peak RSS are its own; the load generator runs in this process:
  - ingest: wired as "leadbridge ingest" wires it (cmd/wire: Echo, auth,
    CloudEvents, metrics, the kgo client options, acks=all, idempotence, a
    1 ms linger), configured by LEADBRIDGE_* variables with the log at level warn.
    A 200 means the broker acknowledged the record. It publishes to a new topic
    leadbridge-bench-<random> with --partitions partitions and the raw topic's
    settings, deleted at the end;
  - naive: net/http, one constant-time token check, a JSON value of the query
    and franz-go's ProduceSync (acks=all, idempotent, linger 0, kgo's other
    defaults) to a topic of its own; Aurora only;
  - bare: a net/http handler that reads the body and answers 200 with a
    {"id":...} body as long as ingest's;
  - the load generator of "leadbridge simulate": --concurrency workers, each
    sending its next request when it has read the previous answer (closed
    loop), over keep-alive connections.
For each --provider, every server first gets --warmup requests that are not
measured; then --rounds rounds of --duration each that alternate the servers,
so that whatever else runs on the machine weighs on all alike. The same
deliveries go to all: aurora: GET lead_changed with a header token and a new
lead_id per delivery; leadpro: POST lead.created with its HS256 JWT (bare and
ingest only). Deliveries are built and signed before the runs (10000 distinct
ones, reused in turn), so building them is not measured.

Reported per server and provider, over its rounds: requests, 200 answers,
other answers and failures (errors), req/s (requests over the summed wall time
of the rounds, from first request to last answer), p50 and p99 latency (from
sending a request to having read its answer), the server process's CPU time
(user+system, /proc/<pid>/stat) per 200 answer, and, with --broker-pid, the
broker process's CPU time per 200 answer over the same rounds (for bare, which
sends nothing, that is the broker's idle load). With --cpuprofile, each
server's CPU per 200 split by part (request, response, net/http's background
read, the handler, routing, kgo, scheduler, GC) from its rounds' profiles,
and the profiles' share of the /proc figure. Then ingest's ratios against
bare and naive, its peak RSS (VmHWM) beside theirs, and the records on each
topic against the 200s (warmup included; fewer records would be a lost
acknowledged event). Everything shares this machine's CPUs: the numbers
describe the machine, not ingest alone. Exits 1 when any request was not
answered 200. Linux only (/proc).`

// benchCommands are the benchmarks: leadbridge bench <name>.
func benchCommands() map[string]command {
	return map[string]command{
		"ingest": {"ingest throughput and latency on a real broker, next to a bare HTTP server", runBenchIngest},
		"enrich": {"enrichment throughput against the API latency bound and the aggregate quota", runBenchEnrich},
		"e2e":    {"freshness: webhook to lead record latency at a steady rate, ingest and enrich together", runBenchE2E},
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
	if args[0] == "serve" { // bench ingest's children, not in the list
		return runBenchServe(ctx, args[1:], getenv, stdout)
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
	duration := fs.Duration("duration", 15*time.Second, "length of each measured round")
	warmup := fs.Int("warmup", 3000, "requests per server and provider sent before measuring (connections, metadata, producer IDs)")
	concurrency := fs.Int("concurrency", 64, "requests in flight at once")
	partitions := fs.Int("partitions", int(config.Default().Topics.Partitions), "partitions of the bench topic")
	providers := fs.String("provider", "aurora,leadpro", "providers to run, comma separated: aurora, leadpro")
	rounds := fs.Int("rounds", 3, "measured rounds per server and provider, alternating the servers")
	brokerPID := fs.Int("broker-pid", 0, "the broker's process `id`, to report its CPU time per delivery (0: not measured)")
	baseline := fs.String("baseline", "", "another leadbridge `binary` whose ingest runs beside this one's in the same rounds (before/after)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of each measured round to `PREFIX`.<server>-<provider>.<round>.pprof, and print each server's CPU per 200 by part")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	provs := config.SplitList(*providers)
	// Clamped, so that a --partitions past int32 still fails Check.
	cfg := bench.Config(config.SplitList(*brokers), int32(min(max(*partitions, 0), math.MaxInt32)))
	b := &bench.Ingest{Cfg: cfg, Args: []string{"bench", "serve"}, Duration: *duration, Warmup: *warmup,
		Concurrency: *concurrency, Rounds: *rounds, BrokerPID: *brokerPID, CPUProfile: *cpuprofile, Baseline: *baseline,
		Out: stdout, Logger: bench.Logger()}
	if err := b.Check(provs); err != nil {
		return usageError{err}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench ingest: this binary, to run the servers: %w", err)
	}
	b.Exe = exe
	return b.Run(ctx, provs)
}

// runBenchServe is a child process of bench ingest, not for people: it
// serves one of the compared servers on the listener it inherits as file
// descriptor 3, configured by the LEADBRIDGE_* variables bench ingest sets,
// until its stdin closes.
func runBenchServe(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) != 1 || !slices.Contains(bench.Servers, args[0]) {
		return usagef("bench serve takes one server: %s", strings.Join(bench.Servers, ", "))
	}
	cfg, logger, err := setup("", getenv, need{webhooks: true})
	if err != nil {
		return err
	}
	defer logger.Sync()                //nolint:errcheck // nothing useful to do with a failed sync of stderr
	if args[0] == bench.ServerIngest { // as runIngest does
		wire.TuneIngestGC(getenv, cfg.Kafka.MaxBufferedBytes)
	}
	serve, err := bench.Server(args[0], cfg, logger)
	if err != nil {
		return usageError{err}
	}
	return bench.Serve(ctx, os.Stdin, stdout, serve)
}
