package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"runtime"
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
	Cfg                 config.Config // from Config
	Exe                 string        // runs a server as `Exe Args... <server>` (leadbridge bench serve)
	Args                []string
	Duration            time.Duration // of each measured round
	Warmup, Concurrency int           // unmeasured requests per server and provider; requests in flight
	Rounds              int           // rounds per server and provider, alternating the servers
	BrokerPID           int           // the broker's process, for its CPU time; 0: not measured
	CPUProfile          string        // file prefix of CPU profiles of each round; empty: none
	// Baseline, when set, is another leadbridge binary whose ingest runs as
	// a fourth server, ServerBaseline, in the same alternating rounds: a
	// before/after comparison that the machine's other load weighs on alike.
	Baseline string
	Out      io.Writer
	Logger   *zap.Logger // from Logger
	children map[string]*child
	acked    map[string]int // 200s by server, warmup included
	rows     []benchRow
}

type benchRow struct {
	server, provider string
	res              simulate.Result
	cpu, broker      time.Duration // CPU time of the server and of the broker over the measured rounds
	// The machine over the same rounds: the load generator's CPU (this
	// process), everything else's (processes not of the bench or the
	// broker), the kernel's softirq and steal time, and the wall time.
	loadgen, others, wall time.Duration
	machine               machineTime
}

// topicOf is the topic a server publishes to: naive and the baseline have
// their own, so that each one's records can be counted against its 200s.
func (b *Ingest) topicOf(server string) string {
	switch server {
	case ServerNaive:
		return b.Cfg.Topics.Raw + "-naive"
	case ServerBaseline:
		return b.Cfg.Topics.Raw + "-baseline"
	}
	return b.Cfg.Topics.Raw
}

// servers are the servers of this run, in the order of its rounds: a new
// slice each time, which the caller may change (provider drops naive for
// LeadPro) without changing Servers.
func (b *Ingest) servers() []string {
	if b.Baseline != "" {
		return append(slices.Clone(Servers), ServerBaseline)
	}
	return slices.Clone(Servers)
}

// roundServers are the servers measured for provider: all of them for
// Aurora; the naive handler speaks Aurora only.
func (b *Ingest) roundServers(provider string) []string {
	servers := b.servers()
	if provider != schema.ProviderAurora {
		servers = slices.DeleteFunc(servers, func(s string) bool { return s == ServerNaive })
	}
	return servers
}

// publishers are the servers of this run that publish to a topic.
func (b *Ingest) publishers() []string {
	if b.Baseline != "" {
		return []string{ServerIngest, ServerNaive, ServerBaseline}
	}
	return []string{ServerIngest, ServerNaive}
}

func (b *Ingest) Run(ctx context.Context, providers []string) (err error) {
	admClient, err := wire.KafkaClient(b.Cfg.Kafka, b.Logger, nil, "bench")
	if err != nil {
		return err
	}
	defer admClient.Close()
	adm := kadm.NewClient(admClient)
	for _, s := range b.publishers() {
		cfg := b.Cfg
		cfg.Topics.Raw = b.topicOf(s)
		if err := createBenchTopic(ctx, adm, cfg); err != nil {
			return err
		}
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if _, err := adm.DeleteTopic(dctx, cfg.Topics.Raw); err != nil {
				fmt.Fprintf(b.Out, "could not delete topic %s: %v\n", cfg.Topics.Raw, err)
			}
		}()
	}

	b.children, b.acked = map[string]*child{}, map[string]int{}
	var started []*child
	defer func() {
		if started != nil { // not stopped below: a failure on the way
			_ = stopAll(started)
		}
	}()
	for _, s := range b.servers() {
		cfg := b.Cfg
		cfg.Topics.Raw = b.topicOf(s)
		exe, serve := b.Exe, s
		if s == ServerBaseline {
			exe, serve = b.Baseline, ServerIngest
		}
		c, err := startChild(exe, b.Args, childEnv(cfg), serve)
		if err != nil {
			return err
		}
		started = append(started, c)
		b.children[s] = c
	}
	// Only ingest has a /readyz (broker reachable, topic present); the others
	// have their listener open already, and the warmup does the rest.
	for _, s := range []string{ServerIngest, ServerBaseline} {
		if c := b.children[s]; c != nil {
			if err := waitReady(ctx, c.url, c.exited); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
	}

	fmt.Fprintf(b.Out, "leadbridge bench ingest: %s %s/%s, %d CPUs, GOMAXPROCS %d; brokers %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0),
		strings.Join(b.Cfg.Kafka.Brokers, ","))
	fmt.Fprintf(b.Out, "topic %s (%d partitions); per server and provider: --warmup %d, then --rounds %d of --duration %s; --concurrency %d\n",
		b.Cfg.Topics.Raw, b.Cfg.Topics.Partitions, b.Warmup, b.Rounds, b.Duration, b.Concurrency)
	broker := "not measured (no --broker-pid)"
	if b.BrokerPID > 0 {
		broker = fmt.Sprintf("pid %d", b.BrokerPID)
	}
	fmt.Fprintf(b.Out, "servers: one process each (bare pid %d, naive pid %d, ingest pid %d); broker CPU: %s\n\n",
		b.children[ServerBare].pid(), b.children[ServerNaive].pid(), b.children[ServerIngest].pid(), broker)
	if c := b.children[ServerBaseline]; c != nil {
		fmt.Fprintf(b.Out, "baseline: %s's ingest, pid %d\n", b.Baseline, c.pid())
	}
	fmt.Fprintf(b.Out, "%-7s %-8s %9s %9s %7s %10s %9s %9s %10s %10s\n", "server", "provider", "requests", "ok", "errors",
		"req/s", "p50", "p99", "cpu/200", "broker/200")
	for _, p := range providers {
		if err := b.provider(ctx, p); err != nil {
			return err
		}
	}
	rss := map[string]int64{}
	for s, c := range b.children {
		if rss[s], err = peakRSS(c.pid()); err != nil {
			return err
		}
	}
	err = stopAll(started)
	started = nil
	if err != nil {
		return err
	}
	records := map[string]int64{}
	for _, s := range b.publishers() {
		if records[s], err = countRecords(context.WithoutCancel(ctx), adm, b.topicOf(s)); err != nil {
			return err
		}
	}
	return b.report(records, rss)
}

// provider warms up the servers, then measures them in alternating rounds.
func (b *Ingest) provider(ctx context.Context, provider string) error {
	sim := &simulate.Simulator{Provider: provider, Attrs: map[string]string{}}
	servers := b.roundServers(provider)
	if provider == schema.ProviderAurora {
		t := b.Cfg.Aurora.Tenants[0]
		sim.Event, sim.Tenant, sim.Header, sim.Token = "lead_changed", t.ID, t.WebhookAuth.Header, t.WebhookAuth.Tokens[0]
	} else {
		a := b.Cfg.LeadPro.Accounts[0]
		sim.Event, sim.Account, sim.Secret = schema.LeadProLeadCreated, a.ID, a.SigningSecrets[0]
	}
	sim.Prepare()
	ds := make([]simulate.Delivery, distinct)
	for i := range ds {
		d, err := sim.Delivery(i)
		if err != nil {
			return err
		}
		ds[i] = d
	}
	rows := make([]benchRow, len(servers))
	clients := make([]*http.Client, len(servers))
	for i, s := range servers {
		rows[i] = benchRow{server: s, provider: provider}
		clients[i] = simulate.NewClient(b.Concurrency, 2*b.Cfg.HTTP.AckTimeout)
		defer clients[i].CloseIdleConnections()
		if b.Warmup > 0 {
			w := simulate.Generate(ctx, clients[i], b.Warmup, b.Concurrency, 0, deliveries(ctx, ds, 0, b.children[s].url))
			b.acked[s] += w.OK()
		}
	}
	// Rounds alternate the servers, so that whatever else the machine does
	// at the time weighs on all alike; each starts where the last left off
	// in the deliveries.
	from := b.Warmup
	for r := range b.Rounds {
		for i := range rows {
			if err := b.measure(ctx, &rows[i], r, clients[i], deliveries(ctx, ds, from, b.children[rows[i].server].url)); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		from += rows[0].res.Requests
	}
	for _, row := range rows {
		b.rows = append(b.rows, row)
		res := row.res
		fmt.Fprintf(b.Out, "%-7s %-8s %9d %9d %7d %10.1f %9s %9s %10s %10s\n", row.server, provider, res.Requests, res.OK(),
			res.Errors(), res.PerSecond(), simulate.Millis(res.Percentile(0.50)), simulate.Millis(res.Percentile(0.99)),
			perDelivery(row.cpu, res.OK()), b.brokerPerDelivery(row))
	}
	for _, row := range rows {
		fmt.Fprintln(b.Out, machineLine(row))
	}
	if b.CPUProfile != "" {
		return printParts(b.Out, b.CPUProfile, b.Rounds, rows)
	}
	return nil
}

// perDelivery formats d per 200 answer in microseconds.
func perDelivery(d time.Duration, ok int) string {
	if ok == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fus", float64(d.Microseconds())/float64(ok))
}

// brokerPerDelivery is the broker's CPU per 200 answer of row; for bare,
// which sends nothing, it is the broker's idle load, per bare answer.
func (b *Ingest) brokerPerDelivery(row benchRow) string {
	if b.BrokerPID <= 0 {
		return "-"
	}
	return perDelivery(row.broker, row.res.OK())
}

// deliveries returns the request builder of simulate.Generate for ds, starting at
// delivery from and sending to base.
func deliveries(ctx context.Context, ds []simulate.Delivery, from int, base string) func(int) (*http.Request, error) {
	return func(i int) (*http.Request, error) { return ds[(from+i)%len(ds)].Request(ctx, base) }
}

// measure runs one measured round of row's server for b.Duration (requests
// in flight at the end are answered and counted), reading the server's and
// the broker's CPU time around it, under a CPU profile if asked for one.
func (b *Ingest) measure(ctx context.Context, row *benchRow, round int, client *http.Client, next func(int) (*http.Request, error)) error {
	c := b.children[row.server]
	if b.CPUProfile != "" {
		if err := c.do("profile " + profileFile(b.CPUProfile, row.server, row.provider, round+1)); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
	}
	s0, err := b.sample(c.pid())
	if err != nil {
		return err
	}
	start := time.Now()
	gctx, cancel := context.WithTimeout(ctx, b.Duration)
	res := simulate.Generate(gctx, client, math.MaxInt, b.Concurrency, 0, next)
	cancel()
	row.wall += time.Since(start)
	s1, err := b.sample(c.pid())
	if err != nil {
		return err
	}
	row.cpu += s1.server - s0.server
	row.broker += s1.broker - s0.broker
	row.loadgen += s1.self - s0.self
	row.others += (s1.machine.busy - s0.machine.busy) - (s1.self - s0.self) - (s1.children - s0.children) - (s1.broker - s0.broker)
	m := s1.machine.sub(s0.machine)
	row.machine = machineTime{busy: row.machine.busy + m.busy, softirq: row.machine.softirq + m.softirq, steal: row.machine.steal + m.steal}
	row.res = row.res.Add(res)
	b.acked[row.server] += res.OK()
	if b.CPUProfile != "" {
		if err := c.do("stop"); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
	}
	return nil
}

// cpuSample is the CPU time of everything a round accounts for, at one instant.
type cpuSample struct {
	server, children, self, broker time.Duration
	machine                        machineTime
}

// sample reads the CPU time of server (a child's pid), of all the
// children, of this process (the load generator), of the broker (when
// known) and of the machine.
func (b *Ingest) sample(server int) (cpuSample, error) {
	var s cpuSample
	var err error
	if s.machine, err = readMachineTime(); err != nil {
		return s, err
	}
	for _, c := range b.children {
		t, err := cpuTime(c.pid())
		if err != nil {
			return s, err
		}
		s.children += t
		if c.pid() == server {
			s.server = t
		}
	}
	if s.self, err = cpuTime(os.Getpid()); err != nil {
		return s, err
	}
	if b.BrokerPID > 0 {
		if s.broker, err = cpuTime(b.BrokerPID); err != nil {
			return s, err
		}
	}
	return s, nil
}

// machineLine says what else ran during row's rounds, in CPUs (CPU
// seconds per second): the load generator, other processes (the broker's
// share too when it is not measured), and the kernel's softirq and steal time.
func machineLine(row benchRow) string {
	if row.wall <= 0 {
		return ""
	}
	cpus := func(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()/row.wall.Seconds()) }
	return fmt.Sprintf("%-7s %-8s machine: %s of %d CPUs busy (%s of it irq and softirq), %s steal; load generator %s (%s/200); other processes %s",
		row.server, row.provider, cpus(row.machine.busy), runtime.NumCPU(), cpus(row.machine.softirq), cpus(row.machine.steal),
		cpus(row.loadgen), perDelivery(row.loadgen, row.res.OK()), cpus(row.others))
}

// report prints the ratios against the goals, peak RSS and every run's
// failures; it fails when a request was not answered 200 or a record
// acknowledged by ingest or naive is missing from its topic.
func (b *Ingest) report(records, rss map[string]int64) error {
	fmt.Fprintln(b.Out)
	row := func(server, provider string) (benchRow, bool) {
		for _, r := range b.rows {
			if r.server == server && r.provider == provider {
				return r, true
			}
		}
		return benchRow{}, false
	}
	var bare, naive, cpu, base []string
	for _, p := range []string{schema.ProviderAurora, schema.ProviderLeadPro} {
		ing, ok := row(ServerIngest, p)
		if !ok {
			continue
		}
		if r, ok := row(ServerBare, p); ok && r.res.PerSecond() > 0 {
			bare = append(bare, fmt.Sprintf("%s %.2fx", p, ing.res.PerSecond()/r.res.PerSecond()))
		}
		if r, ok := row(ServerNaive, p); ok && r.res.PerSecond() > 0 {
			naive = append(naive, fmt.Sprintf("%s %.2fx, p99 %s against %s", p, ing.res.PerSecond()/r.res.PerSecond(),
				simulate.Millis(ing.res.Percentile(0.99)), simulate.Millis(r.res.Percentile(0.99))))
		}
		cpu = append(cpu, p+" "+perDelivery(ing.cpu, ing.res.OK()))
		if r, ok := row(ServerBaseline, p); ok && r.res.PerSecond() > 0 && r.res.OK() > 0 && ing.res.OK() > 0 {
			base = append(base, fmt.Sprintf("%s %.2fx throughput, CPU per 200 %.2fx, p99 %s against %s", p,
				ing.res.PerSecond()/r.res.PerSecond(),
				(float64(ing.cpu)/float64(ing.res.OK()))/(float64(r.cpu)/float64(r.res.OK())),
				simulate.Millis(ing.res.Percentile(0.99)), simulate.Millis(r.res.Percentile(0.99))))
		}
	}
	fmt.Fprintf(b.Out, "ingest/bare throughput: %s (goal >= 0.5x at 64 in flight)\n", strings.Join(bare, ", "))
	if len(naive) > 0 {
		fmt.Fprintf(b.Out, "ingest/naive throughput: %s (goal >= 1.0x, p99 no worse)\n", strings.Join(naive, "; "))
	}
	fmt.Fprintf(b.Out, "ingest CPU per acknowledged delivery: %s (goal <= 20us)\n", strings.Join(cpu, ", "))
	if len(base) > 0 {
		fmt.Fprintf(b.Out, "ingest/baseline: %s\n", strings.Join(base, "; "))
	}
	fmt.Fprintf(b.Out, "peak RSS: bare %.1f MiB, naive %.1f MiB, ingest %.1f MiB (goal for ingest <= 64 MiB)\n",
		mib(rss[ServerBare]), mib(rss[ServerNaive]), mib(rss[ServerIngest]))
	if b.Baseline != "" {
		fmt.Fprintf(b.Out, "baseline: peak RSS %.1f MiB, topic records %d, answered 200: %d (warmup included)\n",
			mib(rss[ServerBaseline]), records[ServerBaseline], b.acked[ServerBaseline])
	}
	fmt.Fprintf(b.Out, "topic records: %d; ingest answered 200: %d (warmup included); naive topic records: %d, naive answered 200: %d\n",
		records[ServerIngest], b.acked[ServerIngest], records[ServerNaive], b.acked[ServerNaive])
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
	for _, s := range b.publishers() {
		if records[s] < int64(b.acked[s]) {
			errs = append(errs, fmt.Errorf("%s's topic holds %d records but %s acknowledged %d", s, records[s], s, b.acked[s]))
		}
	}
	return errors.Join(errs...)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

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
