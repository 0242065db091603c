package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/topics"
	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/leadbridge/leadbridge/schema"
)

const benchSummary = `Measure ingest's throughput and latency on a real Kafka broker, next to this
machine's ceiling: a bare net/http server that answers 200 at once.

Everything but the broker runs in this one process, on loopback:
  - ingest as "leadbridge ingest" runs it (the same code: serveIngest, so the
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

// benchDistinct bounds the deliveries built before a run; more are reused in turn.
const benchDistinct = 10000

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
	cfg := benchConfig(config.SplitList(*brokers), int32(*partitions))
	if err := cfg.Validate(config.Need{Webhooks: true}); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return usageError{errors.Join(problems...)}
	}
	b := &bench{cfg: cfg, n: *n, warmup: *warmup, concurrency: *concurrency, rounds: *rounds, cpuprofile: *cpuprofile,
		out: stdout, logger: benchLogger()}
	return b.run(ctx, provs)
}

// benchConfig is the configuration ingest runs with in the bench: one Aurora
// tenant with a header token, one LeadPro account, a topic of its own.
func benchConfig(brokers []string, partitions int32) config.Config {
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	cfg.Topics.Raw = "leadbridge-bench-" + hex.EncodeToString(rnd[:])
	cfg.Topics.Partitions = partitions
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Aurora.Tenants = []config.Tenant{{ID: uuid.NewString(), WebhookAuth: config.WebhookAuth{
		Header: "X-Aurora-Webhook-Token", Tokens: []schema.Secret{schema.Secret(uuid.NewString())}}}}
	cfg.LeadPro.Accounts = []config.Account{{ID: "4242", SigningSecrets: []schema.Secret{schema.Secret(uuid.NewString())}}}
	return cfg
}

// benchLogger encodes ingest's info lines as production does, then drops them
// (a line per request would drown the table); warnings and errors go to stderr.
func benchLogger() *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey, enc.EncodeTime = "time", zapcore.RFC3339NanoTimeEncoder
	return zap.New(zapcore.NewTee(
		zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(io.Discard), zap.InfoLevel),
		zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(os.Stderr), zap.WarnLevel),
	))
}

type bench struct {
	cfg                    config.Config
	n, warmup, concurrency int
	rounds                 int
	cpuprofile             string
	out                    io.Writer
	logger                 *zap.Logger
	bareURL, ingestURL     string
	ingestAcked            int // 200s from ingest, warmup included
	rows                   []benchRow
}

type benchRow struct {
	server, provider string
	res              loadResult
}

func (b *bench) run(ctx context.Context, providers []string) error {
	topic := b.cfg.Topics.Raw
	opts, err := wire.KafkaOpts(b.cfg.Kafka, b.logger, nil, "bench")
	if err != nil {
		return err
	}
	admClient, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer admClient.Close()
	adm := kadm.NewClient(admClient)
	if err := createBenchTopic(ctx, adm, b.cfg); err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopic(dctx, topic); err != nil {
			fmt.Fprintf(b.out, "could not delete topic %s: %v\n", topic, err)
		}
	}()

	bare, err := serveBare()
	if err != nil {
		return err
	}
	defer bare.stop()
	b.bareURL = bare.url

	ln, err := wire.Listen(b.cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	b.ingestURL = "http://" + ln.Addr().String()
	// ingest stops when the bench says so, after the runs, not on ctx: a
	// canceled bench still drains, flushes and closes it like a signal would.
	ictx, stopIngest := context.WithCancel(context.WithoutCancel(ctx))
	var ingestErr error
	ingestDone := make(chan struct{})
	go func() {
		defer close(ingestDone)
		ingestErr = wire.Ingest(ictx, b.cfg, wire.IngestListeners{Public: ln}, b.logger)
	}()
	stop := func() error {
		stopIngest()
		<-ingestDone
		return ingestErr
	}
	defer stop() //nolint:errcheck // a second call after the explicit one below; errors are returned there
	if err := waitReady(ctx, b.ingestURL, ingestDone); err != nil {
		return errors.Join(err, stop())
	}

	fmt.Fprintf(b.out, "leadbridge bench ingest: %s %s/%s, %d CPUs, GOMAXPROCS %d; brokers %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0),
		strings.Join(b.cfg.Kafka.Brokers, ","))
	fmt.Fprintf(b.out, "topic %s (%d partitions); per server and provider: --warmup %d, then -n %d in %d rounds; --concurrency %d\n\n",
		topic, b.cfg.Topics.Partitions, b.warmup, b.n, b.rounds, b.concurrency)
	fmt.Fprintf(b.out, "%-7s %-8s %9s %9s %7s %10s %9s %9s\n", "server", "provider", "requests", "ok", "errors", "req/s", "p50", "p99")
	for _, p := range providers {
		if err := b.provider(ctx, p); err != nil {
			return err
		}
	}
	if err := stop(); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	records, err := countRecords(context.WithoutCancel(ctx), adm, topic)
	if err != nil {
		return err
	}
	return b.report(records)
}

// provider warms up both servers, then measures them in alternating rounds.
func (b *bench) provider(ctx context.Context, provider string) error {
	sim := &simulator{provider: provider, now: time.Now, attrs: map[string]string{}}
	if provider == schema.ProviderAurora {
		t := b.cfg.Aurora.Tenants[0]
		sim.event, sim.tenant, sim.header, sim.token = "lead_created", t.ID, t.WebhookAuth.Header, t.WebhookAuth.Tokens[0]
		sim.attrs["source"] = "api"
	} else {
		a := b.cfg.LeadPro.Accounts[0]
		sim.event, sim.account, sim.secret = schema.LeadProLeadCreated, a.ID, a.SigningSecrets[0]
	}
	sim.prepare()
	ds := make([]simDelivery, min(b.warmup+b.n, benchDistinct))
	for i := range ds {
		d, err := sim.delivery(i)
		if err != nil {
			return err
		}
		ds[i] = d
	}
	servers := []struct {
		name, base string
		client     *http.Client
		res        loadResult
	}{{name: "bare", base: b.bareURL}, {name: "ingest", base: b.ingestURL}}
	for i := range servers {
		s := &servers[i]
		s.client = newLoadClient(b.concurrency, 2*b.cfg.HTTP.AckTimeout)
		defer s.client.CloseIdleConnections()
		if b.warmup > 0 {
			w := generateLoad(ctx, s.client, b.warmup, b.concurrency, 0, deliveries(ctx, ds, 0, s.base))
			if s.name == "ingest" {
				b.ingestAcked += w.OK()
			}
		}
	}
	// Rounds alternate the servers, so that whatever else the machine does
	// at the time weighs on both alike.
	from := b.warmup
	for r := range b.rounds {
		count := b.n / b.rounds
		if r < b.n%b.rounds {
			count++
		}
		for i := range servers {
			s := &servers[i]
			res, err := b.measure(ctx, s.name+"-"+provider, r, s.client, count, deliveries(ctx, ds, from, s.base))
			if err != nil {
				return err
			}
			if s.name == "ingest" {
				b.ingestAcked += res.OK()
			}
			s.res = s.res.add(res)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		from += count
	}
	for _, s := range servers {
		res := s.res
		b.rows = append(b.rows, benchRow{s.name, provider, res})
		fmt.Fprintf(b.out, "%-7s %-8s %9d %9d %7d %10.1f %9s %9s\n", s.name, provider, res.Requests, res.OK(),
			res.Errors(), res.PerSecond(), fmtMillis(res.Percentile(0.50)), fmtMillis(res.Percentile(0.99)))
	}
	return nil
}

// deliveries returns the request builder of generateLoad for ds, starting at
// delivery from and sending to base.
func deliveries(ctx context.Context, ds []simDelivery, from int, base string) func(int) (*http.Request, error) {
	return func(i int) (*http.Request, error) { return ds[(from+i)%len(ds)].request(ctx, base) }
}

// measure runs one measured round, under a CPU profile if asked for one.
func (b *bench) measure(ctx context.Context, run string, round int, client *http.Client, n int,
	next func(int) (*http.Request, error)) (loadResult, error) {
	if b.cpuprofile != "" {
		f, err := os.Create(fmt.Sprintf("%s.%s.%d.pprof", b.cpuprofile, run, round+1))
		if err != nil {
			return loadResult{}, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return loadResult{}, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	return generateLoad(ctx, client, n, b.concurrency, 0, next), nil
}

// report prints the ratios and every run's failures; it fails when a request
// was not answered 200 or an acknowledged record is missing from the topic.
func (b *bench) report(records int64) error {
	fmt.Fprintln(b.out)
	var ratios []string
	for i := 0; i+1 < len(b.rows); i += 2 {
		bare, ing := b.rows[i].res, b.rows[i+1].res
		if bare.PerSecond() > 0 {
			ratios = append(ratios, fmt.Sprintf("%s %.2fx", b.rows[i].provider, ing.PerSecond()/bare.PerSecond()))
		}
	}
	fmt.Fprintf(b.out, "ingest/bare throughput: %s (goal >= 0.5x)\n", strings.Join(ratios, ", "))
	fmt.Fprintf(b.out, "topic records: %d; ingest answered 200: %d (warmup included)\n", records, b.ingestAcked)
	var errs []error
	for _, r := range b.rows {
		if r.res.Errors() == 0 {
			continue
		}
		codes := make([]string, 0, len(r.res.Status))
		for _, c := range slices.Sorted(maps.Keys(r.res.Status)) {
			codes = append(codes, fmt.Sprintf("%d: %d", c, r.res.Status[c]))
		}
		line := fmt.Sprintf("%s %s answers: %s", r.server, r.provider, strings.Join(codes, ", "))
		if r.res.NoAnswer > 0 {
			line += fmt.Sprintf("; no answer: %d (first: %v)", r.res.NoAnswer, r.res.FirstErr)
		}
		fmt.Fprintln(b.out, line)
		errs = append(errs, fmt.Errorf("%s %s: %d of %d requests not answered 200", r.server, r.provider, r.res.Errors(), r.res.Requests))
	}
	if records < int64(b.ingestAcked) {
		errs = append(errs, fmt.Errorf("the topic holds %d records but ingest acknowledged %d", records, b.ingestAcked))
	}
	return errors.Join(errs...)
}

// createBenchTopic creates the bench topic with the raw topic's settings and
// waits until every partition has a leader.
func createBenchTopic(ctx context.Context, adm *kadm.Client, cfg config.Config) error {
	return topics.Create(ctx, adm, cfg.Topics.Raw, cfg.Topics.Partitions, cfg.Topics.ReplicationFactor, topics.Specs(cfg.Topics)[0].Configs)
}

// countRecords sums the end offsets of topic's partitions.
func countRecords(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	offs, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	var total int64
	offs.Each(func(o kadm.ListedOffset) { total += o.Offset })
	return total, nil
}

// bareAnswer is as long as ingest's 200 body, so both send the same bytes.
var bareAnswer = []byte(`{"id":"00000000-0000-7000-8000-000000000000"}` + "\n")

type bareServer struct {
	url  string
	srv  *http.Server
	done chan error
}

// serveBare starts the ceiling: a server that reads the request and answers 200.
func serveBare() (*bareServer, error) {
	ln, err := wire.Listen("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &bareServer{url: "http://" + ln.Addr().String(), done: make(chan error, 1)}
	s.srv = &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(bareAnswer)
		}),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

func (s *bareServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	<-s.done
}

// waitReady polls ingest's /readyz (broker reachable, topic present) for up to 30 s.
func waitReady(ctx context.Context, base string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 3 * time.Second}
	defer client.CloseIdleConnections()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("ingest stopped before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("ingest not ready after 30s: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
