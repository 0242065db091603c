package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/topics"
	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/leadbridge/leadbridge/enrich/aurora"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

const benchEnrichSummary = `Measure enrichment on a real broker: a backlog of Aurora lead events on a
fresh raw topic, drained by enrich members (the production serveEnrich wiring,
in this process) against the Aurora sandbox, until every lead has its record.
Reports drain time, events/s, API calls per event, and the bound it is held
against:
  latency: API latency --latency, no quota; bound = members x max_in_flight / latency
  quota:   --rpm per token over --tenants tokens (the sandbox answers 429 past it);
           bound = API calls / (rpm x tenants / 60 s)
Events are spread over --latency-leads / --quota-leads leads, so a backlog holds several events per lead
(bursts, duplicate deliveries): enrich serves them with one call each.`

func runBenchEnrich(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("bench enrich", benchEnrichSummary, stdout)
	brokers := fs.String("brokers", cmp.Or(getenv("LEADBRIDGE_KAFKA_BROKERS"), "127.0.0.1:9092"), "Kafka seed brokers, comma separated")
	scenario := fs.String("scenario", "latency,quota", "scenarios to run, comma separated: latency, quota")
	events := fs.Int("events", 10000, "backlog size (raw events)")
	members := fs.Int("members", 2, "enrich members in the group")
	latency := fs.Duration("latency", 100*time.Millisecond, "latency scenario: Aurora API latency")
	latLeads := fs.Int("latency-leads", 0, "latency scenario: distinct leads (default: one per event)")
	rpm := fs.Int("rpm", 90, "quota scenario: requests per minute per API token")
	tenants := fs.Int("tenants", 50, "quota scenario: tenants (one API token each)")
	quotaLeads := fs.Int("quota-leads", 2000, "quota scenario: distinct leads")
	inflight := fs.Int("max-in-flight", config.Default().Enrich.MaxInFlight, "API calls in flight per member")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	if *events < 1 || *members < 1 || *tenants < 1 || *rpm < 1 || *quotaLeads < 1 || *inflight < 1 {
		return usagef("--events, --members, --tenants, --rpm, --quota-leads and --max-in-flight must be positive")
	}
	for _, sc := range config.SplitList(*scenario) {
		var r enrichBenchRun
		switch sc {
		case "latency":
			r = enrichBenchRun{name: "latency", tenants: 10, leads: cmp.Or(*latLeads, *events), rpm: 1_000_000, latency: *latency}
			r.bound = float64(*members**inflight) / latency.Seconds()
		case "quota":
			r = enrichBenchRun{name: "quota", tenants: *tenants, leads: *quotaLeads, rpm: *rpm, limit: true}
		default:
			return usagef("--scenario: %q is not latency or quota", sc)
		}
		r.events, r.members, r.inflight = *events, *members, *inflight
		if err := r.run(ctx, config.SplitList(*brokers), stdout); err != nil {
			return fmt.Errorf("bench enrich %s: %w", sc, err)
		}
	}
	return nil
}

type enrichBenchRun struct {
	name                                      string
	events, leads, tenants, members, inflight int
	rpm                                       int
	latency                                   time.Duration
	limit                                     bool    // the sandbox enforces rpm per token
	bound                                     float64 // events/s bound (latency scenario)
}

func (r enrichBenchRun) run(ctx context.Context, brokers []string, w io.Writer) error {
	id := uuid.NewString()[:8]
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Log.Level = "error"
	cfg.Topics.Raw, cfg.Topics.Leads, cfg.Topics.DLQ = "bench-raw-"+id, "bench-leads-"+id, "bench-dlq-"+id
	cfg.Enrich.GroupID = "bench-enrich-" + id
	cfg.Enrich.MaxInFlight = r.inflight
	cfg.Aurora.RequestsPerMinute = r.rpm
	logger := zap.NewNop()

	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	if _, err := topics.Ensure(ctx, adm, cfg.Topics, io.Discard); err != nil {
		return err
	}
	defer adm.DeleteTopics(context.WithoutCancel(ctx), cfg.Topics.Raw, cfg.Topics.Leads, cfg.Topics.DLQ) //nolint:errcheck

	opts := sandbox.Options{Tokens: map[string]string{}, Latency: r.latency}
	if r.limit {
		opts.RateLimit, opts.RateWindow = r.rpm, time.Minute
	}
	type lead struct{ tenant, id string }
	var leads []lead
	for t := range r.tenants {
		tenant := fmt.Sprintf("bench-tenant-%02d", t)
		opts.Tokens[tenant] = "token-" + tenant
		cfg.Aurora.Tenants = append(cfg.Aurora.Tenants, config.Tenant{ID: tenant, APIToken: schema.Secret("token-" + tenant)})
	}
	sb := sandbox.New(opts)
	defer sb.Close()
	for i := range r.leads {
		tenant := cfg.Aurora.Tenants[i%r.tenants].ID
		leads = append(leads, lead{tenant, sb.PutLead(tenant, map[string]any{"address": "1 Main St, Springfield, IL, 62701"})})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	apiCtx, stopAPI := context.WithCancel(ctx)
	defer stopAPI()
	go wire.ServeHandler(apiCtx, ln, sb.Handler()) //nolint:errcheck
	cfg.Aurora.APIURL = "http://" + ln.Addr().String()

	// The backlog, produced before any member starts.
	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(cfg.Topics.Raw))
	if err != nil {
		return err
	}
	for i := range r.events {
		l := leads[i%len(leads)]
		data, _ := json.Marshal(schema.AuroraData{Event: "lead_changed", TenantID: l.tenant, Attributes: map[string]string{"lead_id": l.id}})
		ev := schema.Event{ID: uuid.Must(uuid.NewV7()).String(), Source: schema.AuroraSource(l.tenant),
			Type: schema.AuroraTypePrefix + "lead_changed", Subject: l.id, Time: time.Now().UTC(),
			PartitionKey: schema.AuroraKey(l.tenant, l.id), Data: data}
		producer.Produce(ctx, ev.Record(), nil)
	}
	if err := producer.Flush(ctx); err != nil {
		return fmt.Errorf("produce backlog: %w", err)
	}
	producer.Close()

	// Members, then wait until every lead has a record.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	start := time.Now()
	done := make(chan error, r.members)
	for range r.members {
		eln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		go func() {
			done <- wire.Enrich(runCtx, cfg, eln, aurora.NewClient(cfg.Aurora.APIURL, &http.Client{Timeout: 10 * time.Second}, logger), logger)
		}()
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(cfg.Topics.Leads, cfg.Topics.DLQ),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer consumer.Close()
	keys, dlq := map[string]bool{}, 0
	for len(keys)+dlq < len(leads) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		consumer.PollFetches(ctx).EachRecord(func(rec *kgo.Record) {
			if rec.Topic == cfg.Topics.DLQ {
				dlq++
				return
			}
			keys[string(rec.Key)] = true
		})
	}
	took := time.Since(start)
	stop()
	var errs []error
	for range r.members {
		errs = append(errs, <-done)
	}
	st := sb.Stats()
	calls := st.ByRoute[sandbox.RouteRetrieveLead]
	rate := float64(r.events) / took.Seconds()
	fmt.Fprintf(w, "\nscenario %s: %d events over %d leads, %d tenants, %d members x %d in flight\n",
		r.name, r.events, r.leads, r.tenants, r.members, r.inflight)
	fmt.Fprintf(w, "  drained in %.1fs: %.0f events/s, %d API calls (%.3f per event), %d x 429, %d in the DLQ\n",
		took.Seconds(), rate, calls, float64(calls)/float64(r.events), st.ByStatus[429], dlq)
	switch r.name {
	case "latency":
		fmt.Fprintf(w, "  bound (in flight / latency): %.0f calls/s; reached %.0f calls/s = %.2fx of it\n",
			r.bound, float64(calls)/took.Seconds(), float64(calls)/took.Seconds()/r.bound)
	case "quota":
		agg := float64(r.rpm*r.tenants) / 60
		ideal := float64(calls) / agg
		fmt.Fprintf(w, "  aggregate quota %.1f calls/s: %d calls need >= %.1fs; drained in %.1fs = %.2fx the quota-bound time\n",
			agg, calls, ideal, took.Seconds(), took.Seconds()/ideal)
	}
	if dlq > 0 {
		errs = append(errs, fmt.Errorf("%d events went to the DLQ", dlq))
	}
	return errors.Join(errs...)
}
