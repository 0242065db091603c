package bench

import (
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
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/topics"
	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/leadbridge/leadbridge/ingest/simulate"
	"github.com/leadbridge/leadbridge/schema"
)

// distinct bounds the deliveries built before a run; more are reused in turn.
const distinct = 10000

// Config is the configuration ingest runs with in the bench: one Aurora
// tenant with a header token, one LeadPro account, a topic of its own.
func Config(brokers []string, partitions int32) config.Config {
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

// Logger encodes ingest's info lines as production does, then drops them
// (a line per request would drown the table); warnings and errors go to stderr.
func Logger() *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey, enc.EncodeTime = "time", zapcore.RFC3339NanoTimeEncoder
	return zap.New(zapcore.NewTee(
		zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(io.Discard), zap.InfoLevel),
		zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(os.Stderr), zap.WarnLevel),
	))
}

// Ingest is one run of the ingest benchmark: set the fields, then Run.
type Ingest struct {
	Cfg                    config.Config // from Config
	N, Warmup, Concurrency int           // measured requests, unmeasured ones, in flight
	Rounds                 int           // alternate bare and ingest this many times
	CPUProfile             string        // file prefix of CPU profiles of each round; empty: none
	Out                    io.Writer
	Logger                 *zap.Logger // from Logger
	bareURL, ingestURL     string
	ingestAcked            int // 200s from ingest, warmup included
	rows                   []benchRow
}

type benchRow struct {
	server, provider string
	res              simulate.Result
}

func (b *Ingest) Run(ctx context.Context, providers []string) error {
	topic := b.Cfg.Topics.Raw
	admClient, err := wire.KafkaClient(b.Cfg.Kafka, b.Logger, nil, "bench")
	if err != nil {
		return err
	}
	defer admClient.Close()
	adm := kadm.NewClient(admClient)
	if err := createBenchTopic(ctx, adm, b.Cfg); err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopic(dctx, topic); err != nil {
			fmt.Fprintf(b.Out, "could not delete topic %s: %v\n", topic, err)
		}
	}()

	bare, err := serveBare()
	if err != nil {
		return err
	}
	defer bare.stop()
	b.bareURL = bare.url

	ln, err := wire.Listen(b.Cfg.HTTP.Addr)
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
		ingestErr = wire.Ingest(ictx, b.Cfg, wire.IngestListeners{Public: ln}, b.Logger)
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

	fmt.Fprintf(b.Out, "leadbridge bench ingest: %s %s/%s, %d CPUs, GOMAXPROCS %d; brokers %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0),
		strings.Join(b.Cfg.Kafka.Brokers, ","))
	fmt.Fprintf(b.Out, "topic %s (%d partitions); per server and provider: --warmup %d, then -n %d in %d rounds; --concurrency %d\n\n",
		topic, b.Cfg.Topics.Partitions, b.Warmup, b.N, b.Rounds, b.Concurrency)
	fmt.Fprintf(b.Out, "%-7s %-8s %9s %9s %7s %10s %9s %9s\n", "server", "provider", "requests", "ok", "errors", "req/s", "p50", "p99")
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
func (b *Ingest) provider(ctx context.Context, provider string) error {
	sim := &simulate.Simulator{Provider: provider, Attrs: map[string]string{}}
	if provider == schema.ProviderAurora {
		t := b.Cfg.Aurora.Tenants[0]
		sim.Event, sim.Tenant, sim.Header, sim.Token = "lead_created", t.ID, t.WebhookAuth.Header, t.WebhookAuth.Tokens[0]
		sim.Attrs["source"] = "api"
	} else {
		a := b.Cfg.LeadPro.Accounts[0]
		sim.Event, sim.Account, sim.Secret = schema.LeadProLeadCreated, a.ID, a.SigningSecrets[0]
	}
	sim.Prepare()
	ds := make([]simulate.Delivery, min(b.Warmup+b.N, distinct))
	for i := range ds {
		d, err := sim.Delivery(i)
		if err != nil {
			return err
		}
		ds[i] = d
	}
	servers := []struct {
		name, base string
		client     *http.Client
		res        simulate.Result
	}{{name: "bare", base: b.bareURL}, {name: "ingest", base: b.ingestURL}}
	for i := range servers {
		s := &servers[i]
		s.client = simulate.NewClient(b.Concurrency, 2*b.Cfg.HTTP.AckTimeout)
		defer s.client.CloseIdleConnections()
		if b.Warmup > 0 {
			w := simulate.Generate(ctx, s.client, b.Warmup, b.Concurrency, 0, deliveries(ctx, ds, 0, s.base))
			if s.name == "ingest" {
				b.ingestAcked += w.OK()
			}
		}
	}
	// Rounds alternate the servers, so that whatever else the machine does
	// at the time weighs on both alike.
	from := b.Warmup
	for r := range b.Rounds {
		count := b.N / b.Rounds
		if r < b.N%b.Rounds {
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
			s.res = s.res.Add(res)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		from += count
	}
	for _, s := range servers {
		res := s.res
		b.rows = append(b.rows, benchRow{s.name, provider, res})
		fmt.Fprintf(b.Out, "%-7s %-8s %9d %9d %7d %10.1f %9s %9s\n", s.name, provider, res.Requests, res.OK(),
			res.Errors(), res.PerSecond(), simulate.Millis(res.Percentile(0.50)), simulate.Millis(res.Percentile(0.99)))
	}
	return nil
}

// deliveries returns the request builder of generateLoad for ds, starting at
// delivery from and sending to base.
func deliveries(ctx context.Context, ds []simulate.Delivery, from int, base string) func(int) (*http.Request, error) {
	return func(i int) (*http.Request, error) { return ds[(from+i)%len(ds)].Request(ctx, base) }
}

// measure runs one measured round, under a CPU profile if asked for one.
func (b *Ingest) measure(ctx context.Context, run string, round int, client *http.Client, n int,
	next func(int) (*http.Request, error)) (simulate.Result, error) {
	if b.CPUProfile != "" {
		f, err := os.Create(fmt.Sprintf("%s.%s.%d.pprof", b.CPUProfile, run, round+1))
		if err != nil {
			return simulate.Result{}, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return simulate.Result{}, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	return simulate.Generate(ctx, client, n, b.Concurrency, 0, next), nil
}

// report prints the ratios and every run's failures; it fails when a request
// was not answered 200 or an acknowledged record is missing from the topic.
func (b *Ingest) report(records int64) error {
	fmt.Fprintln(b.Out)
	var ratios []string
	for i := 0; i+1 < len(b.rows); i += 2 {
		bare, ing := b.rows[i].res, b.rows[i+1].res
		if bare.PerSecond() > 0 {
			ratios = append(ratios, fmt.Sprintf("%s %.2fx", b.rows[i].provider, ing.PerSecond()/bare.PerSecond()))
		}
	}
	fmt.Fprintf(b.Out, "ingest/bare throughput: %s (goal >= 0.5x)\n", strings.Join(ratios, ", "))
	fmt.Fprintf(b.Out, "topic records: %d; ingest answered 200: %d (warmup included)\n", records, b.ingestAcked)
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
		fmt.Fprintln(b.Out, line)
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
