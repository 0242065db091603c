package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
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
	"github.com/leadbridge/leadbridge/ingest/simulate"
	"github.com/leadbridge/leadbridge/schema"
)

// warmLeads are sent, one at a time, before the measured webhooks, until
// each has its lead record: by then the members have joined the group.
const warmLeads = 20

// E2E is the freshness benchmark (`leadbridge bench e2e`): ingest and
// enrich members wired as in production (cmd/wire), in this process, on
// fresh topics of a real broker, with the Aurora sandbox as API. Webhooks go
// to ingest at a steady rate, each a lead_changed for a lead of its own; a
// webhook's freshness is the time from sending it to its lead record being
// readable (read_committed) on the leads topic. enrich's quota is lifted:
// one tenant at 1,000/s would need 60,000 calls a minute.
type E2E struct {
	Rate        float64       // webhooks per second
	Duration    time.Duration // of the measured load
	Concurrency int           // webhooks in flight at most
	Members     int           // enrich members
	Latency     time.Duration // Aurora API latency
}

func (x E2E) Do(ctx context.Context, brokers []string, w io.Writer) error {
	id := uuid.NewString()[:8]
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Log.Level = "error"
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Topics.Raw, cfg.Topics.Leads, cfg.Topics.DLQ = "e2e-raw-"+id, "e2e-leads-"+id, "e2e-dlq-"+id
	cfg.Topics.Erasures, cfg.Topics.State, cfg.Topics.Retry = "e2e-erasures-"+id, "e2e-state-"+id, "e2e-retry-"+id
	cfg.Enrich.GroupID = "e2e-enrich-" + id
	cfg.Aurora.RequestsPerMinute = 1_000_000 // no quota: the API's latency is the scenario
	tenant, apiToken, hookToken := "e2e-tenant", "api-"+uuid.NewString(), uuid.NewString()
	cfg.Aurora.Tenants = []config.Tenant{{ID: tenant, APIToken: schema.Secret(apiToken),
		WebhookAuth: config.WebhookAuth{Header: "X-Aurora-Webhook-Token", Tokens: []schema.Secret{schema.Secret(hookToken)}}}}
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
	var names []string
	for _, spec := range topics.Specs(cfg.Topics) {
		if strings.HasPrefix(spec.Name, "e2e-") { // never a shared topic
			names = append(names, spec.Name)
		}
	}
	defer adm.DeleteTopics(context.WithoutCancel(ctx), names...) //nolint:errcheck

	// The sandbox knows every lead the webhooks name.
	sb := sandbox.New(sandbox.Options{Tokens: map[string]string{tenant: apiToken}, Latency: x.Latency})
	defer sb.Close()
	measured := int(math.Ceil(x.Rate * x.Duration.Seconds()))
	leads := make([]string, warmLeads+measured)
	for i := range leads {
		leads[i] = sb.PutLead(tenant, map[string]any{"address": "1 Main St, Springfield, IL, 62701"})
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	lns, err := wire.ListenAll("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		return err
	}
	wg.Go(func() { _ = wire.ServeHandler(runCtx, lns[0], sb.Handler()) })
	cfg.Aurora.APIURL = "http://" + lns[0].Addr().String()
	base := "http://" + lns[1].Addr().String()
	errc := make(chan error, 1+x.Members)
	wg.Go(func() { errc <- wire.Ingest(runCtx, cfg, wire.IngestListeners{Public: lns[1]}, logger) })
	for range x.Members {
		eln, err := wire.Listen("127.0.0.1:0")
		if err != nil {
			return err
		}
		wg.Go(func() {
			errc <- wire.Enrich(runCtx, cfg, eln, aurora.NewClient(cfg.Aurora.APIURL, wire.APIClient(cfg), logger), logger)
		})
	}

	// The observer notes when each lead's record becomes readable.
	seen := newArrivals()
	consumer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(cfg.Topics.Leads),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return err
	}
	defer consumer.Close()
	wg.Go(func() {
		for runCtx.Err() == nil {
			fs := consumer.PollFetches(runCtx)
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) { seen.add(string(r.Key), now) })
		}
	})

	client := simulate.NewClient(x.Concurrency, 30*time.Second)
	defer client.CloseIdleConnections()
	webhook := func(ctx context.Context, lead string) (*http.Request, error) {
		r, err := http.NewRequestWithContext(ctx, http.MethodGet,
			base+"/webhooks/aurora/"+tenant+"/lead_changed?lead_id="+url.QueryEscape(lead), nil)
		if err == nil {
			r.Header.Set("X-Aurora-Webhook-Token", hookToken)
		}
		return r, err
	}
	key := func(lead string) string { return schema.AuroraKey(tenant, lead) }

	// Warm up: one lead at a time until its record is readable, so that the
	// group join and first fetches are not measured.
	warmDeadline := time.Now().Add(90 * time.Second)
	for _, lead := range leads[:warmLeads] {
		for !seen.has(key(lead)) {
			if res := simulate.Generate(ctx, client, 1, 1, 0, func(int) (*http.Request, error) { return webhook(ctx, lead) }); res.OK() == 1 {
				if err := seen.wait(ctx, key(lead), warmDeadline); err != nil {
					return fmt.Errorf("warm-up: %w", err)
				}
			} else if time.Now().After(warmDeadline) {
				return errors.New("warm-up: ingest did not answer 200 within 90s")
			} else {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}

	sent := make([]time.Time, measured)
	res := simulate.Generate(ctx, client, measured, x.Concurrency, x.Rate, func(i int) (*http.Request, error) {
		sent[i] = time.Now()
		return webhook(ctx, leads[warmLeads+i])
	})
	lastDeadline := time.Now().Add(60 * time.Second)
	var fresh []time.Duration
	missing := 0
	for i := range measured {
		at, err := seen.waitTime(ctx, key(leads[warmLeads+i]), lastDeadline)
		if err != nil {
			missing++
			continue
		}
		fresh = append(fresh, at.Sub(sent[i]))
	}
	slices.Sort(fresh)
	pct := func(p float64) string {
		if len(fresh) == 0 {
			return "-"
		}
		return simulate.Millis(fresh[max(0, int(math.Ceil(p*float64(len(fresh))))-1)])
	}
	fmt.Fprintf(w, "bench e2e: %d webhooks at %.0f/s (sent at %.0f/s), %d in flight at most; %d enrich members; API latency %s\n",
		measured, x.Rate, res.PerSecond(), x.Concurrency, x.Members, x.Latency)
	fmt.Fprintf(w, "  ingest answered 200: %d of %d (webhook p50 %s, p99 %s)\n", res.OK(), res.Requests,
		simulate.Millis(res.Percentile(0.50)), simulate.Millis(res.Percentile(0.99)))
	fmt.Fprintf(w, "  webhook to lead record: p50 %s, p90 %s, p99 %s, max %s over %d records; %d without a record after 60s\n",
		pct(0.50), pct(0.90), pct(0.99), pct(1), len(fresh), missing)
	stop()
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	if res.Errors() > 0 {
		errs = append(errs, fmt.Errorf("%d webhooks not answered 200", res.Errors()))
	}
	if missing > 0 {
		errs = append(errs, fmt.Errorf("%d acknowledged webhooks have no lead record", missing))
	}
	return errors.Join(errs...)
}

// arrivals are the times lead records became readable, by key.
type arrivals struct {
	mu      sync.Mutex
	at      map[string]time.Time
	changed chan struct{} // closed and replaced on every add
}

func newArrivals() *arrivals {
	return &arrivals{at: map[string]time.Time{}, changed: make(chan struct{})}
}

func (a *arrivals) add(key string, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.at[key]; !ok {
		a.at[key] = t
	}
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *arrivals) has(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.at[key]
	return ok
}

func (a *arrivals) wait(ctx context.Context, key string, deadline time.Time) error {
	_, err := a.waitTime(ctx, key, deadline)
	return err
}

// waitTime waits until key has arrived or deadline passes.
func (a *arrivals) waitTime(ctx context.Context, key string, deadline time.Time) (time.Time, error) {
	for {
		a.mu.Lock()
		t, ok := a.at[key]
		changed := a.changed
		a.mu.Unlock()
		if ok {
			return t, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(time.Until(deadline)):
			return time.Time{}, fmt.Errorf("no lead record for %s by the deadline", key)
		}
	}
}
