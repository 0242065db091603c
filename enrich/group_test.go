package enrich_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"

	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

func newLead(i int) map[string]any {
	return map[string]any{
		"address":  fmt.Sprintf("%d Brannan St, San Francisco, CA, 94107", i),
		"latitude": 37.77960043, "longitude": -122.39530086,
		"customer": map[string]any{"customer_first_name": "Jane", "customer_last_name": fmt.Sprint("Doe", i),
			"customer_email": fmt.Sprintf("jane%d@example.com", i), "customer_phone": "(555) 111-5151"},
	}
}

// tail keeps reading a topic and the last record per key.
type tail struct {
	mu   sync.Mutex
	all  []*kgo.Record
	at   []time.Time // when each of all was read
	last map[string]*kgo.Record
}

func (h *harness) tail(ctx context.Context, topic string) *tail {
	tl := &tail{last: map[string]*kgo.Record{}}
	c := h.consumer(topic)
	go func() {
		for ctx.Err() == nil {
			fs := c.PollFetches(ctx)
			tl.mu.Lock()
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				tl.all = append(tl.all, r)
				tl.at = append(tl.at, now)
				tl.last[string(r.Key)] = r
			})
			tl.mu.Unlock()
		}
	}()
	return tl
}

func (h *harness) consumer(topic string) *kgo.Client {
	return kafkatest.Client(h.t, h.b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
}

func (tl *tail) snapshot() ([]*kgo.Record, map[string]*kgo.Record) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	last := make(map[string]*kgo.Record, len(tl.last))
	for k, v := range tl.last {
		last[k] = v
	}
	return append([]*kgo.Record(nil), tl.all...), last
}

func providerUpdatedAt(tb testing.TB, r *kgo.Record) string {
	tb.Helper()
	var l struct {
		ProviderFields struct {
			UpdatedAt string `json:"updated_at"`
		} `json:"provider_fields"`
	}
	if err := json.Unmarshal(r.Value, &l); err != nil {
		tb.Fatal(err)
	}
	return l.ProviderFields.UpdatedAt
}

// Three members share a few thousand events over many leads and tenants; one,
// a child process, is SIGKILLed mid-stream (no leave, no final commit). Every lead's last
// record must match the API's latest state, provider state never goes
// backwards per key, nothing lands in the DLQ, and the duplicates are counted.
func TestGroupSurvivesHardKill(t *testing.T) {
	const tenants, leadsPerTenant, events = 3, 100, 3000
	h := newHarness(t, tenants, 6, sandbox.Options{Latency: 2 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	type ref struct{ tenant, id string }
	var leads []ref
	for ti := range tenants {
		tenant := fmt.Sprintf("tenant-%d", ti)
		for i := range leadsPerTenant {
			leads = append(leads, ref{tenant, h.api.PutLead(tenant, newLead(ti*1000+i))})
		}
	}
	h.start("m1")
	h.start("m2")
	killVictim := h.startChild() // a separate process, so the kill is a real crash
	leadsTail := h.tail(ctx, h.leads)
	var killedAt time.Time

	for i := range events {
		l := leads[i%len(leads)]
		event := "lead_created"
		if i >= len(leads) {
			event = "lead_changed"
			if _, ok := h.api.UpdateLead(l.tenant, l.id, map[string]any{"monthly_average_bill": i}); !ok {
				t.Fatalf("update lead %s", l.id)
			}
		}
		h.auroraEvent(ctx, l.tenant, event, l.id)
		if i == events/2 {
			killVictim()
			killedAt = time.Now()
			t.Log("SIGKILLed the member process 'victim' at event", i)
		}
	}

	waitFor(t, 2*time.Minute, "every lead's last record to show the API's latest state", func() bool {
		_, last := leadsTail.snapshot()
		for _, l := range leads {
			r, ok := last[schema.AuroraKey(l.tenant, l.id)]
			if !ok {
				return false
			}
			cur, _ := h.api.Lead(l.tenant, l.id)
			if providerUpdatedAt(t, r) != cur["updated_at"] {
				return false
			}
		}
		return true
	})
	all, _ := leadsTail.snapshot()
	recs := h.leadsOf(all)

	// Provider state never goes backwards per key; count duplicates and raw-order replays.
	lastUpdated := map[string]time.Time{}
	lastRaw := map[string]int64{}
	seen := map[string]bool{}
	lastContent := map[string]string{}
	dups, replays, noops := 0, 0, 0
	for _, r := range recs {
		u, ok := schema.LeadUpdatedAt(r.lead)
		if !ok {
			t.Fatalf("%s: record without updated_at", r.key)
		}
		if u.Before(lastUpdated[r.key]) {
			t.Errorf("%s: updated_at went back from %v to %v", r.key, lastUpdated[r.key], u)
		}
		lastUpdated[r.key] = u
		off, ok := h.rawOffsets.Load(r.ev.ID)
		if !ok {
			t.Fatalf("record names raw event %s that was never produced", r.ev.ID)
		}
		if prev, ok := lastRaw[r.key]; ok && off.(int64) < prev {
			replays++
		}
		lastRaw[r.key] = off.(int64)
		id := r.key + "/" + r.ev.ID
		if seen[id] {
			dups++
		}
		seen[id] = true
		l := r.lead
		l.SourceEvent = schema.SourceEvent{}
		content, _ := json.Marshal(l)
		if lastContent[r.key] == string(content) {
			noops++
		}
		lastContent[r.key] = string(content)
	}
	// Takeover: per raw partition, from the kill to the first record (as a
	// read_committed reader sees it) of an event sent after the kill. The
	// victim's partitions are the slow ones.
	tl := leadsTail
	tl.mu.Lock()
	firstAfter := map[int32]time.Duration{}
	for i, r := range tl.all {
		id := schema.Header(r, schema.HeaderID)
		v, ok := h.rawSent.Load(id)
		if !ok || v.(rawSend).at.Before(killedAt) {
			continue
		}
		p := v.(rawSend).partition
		if _, seen := firstAfter[p]; !seen {
			firstAfter[p] = tl.at[i].Sub(killedAt)
		}
	}
	tl.mu.Unlock()
	var takeover time.Duration
	for _, d := range firstAfter {
		takeover = max(takeover, d)
	}
	if dups > 0 {
		t.Errorf("%d duplicate lead records (the same raw event twice)", dups)
	}
	if noops > 0 {
		t.Errorf("%d lead records repeat their key's previous content", noops)
	}
	if takeover > 10*time.Second {
		t.Errorf("takeover took %v, want at most 10s (per partition: %v)", takeover, firstAfter)
	}
	dlq := h.readAll(ctx, h.dlq, 0, time.Second)
	if len(dlq) != 0 {
		t.Fatalf("%d records in the DLQ; none expected", len(dlq))
	}
	calls := h.api.Stats().ByRoute[sandbox.RouteRetrieveLead]
	t.Logf("events=%d lead records=%d API calls=%d (%.2f per event) duplicates=%d repeated content=%d raw-order replays=%d takeover=%v",
		events, len(recs), calls, float64(calls)/events, dups, noops, replays, takeover)
}

// With two members and a low budget, the API never sees more than the quota
// per token in any window, even while one tenant's token is throttled, and
// every lead of both tenants gets its record. (How the budget is shared and
// slowed is unit-tested in virtual time; this checks it holds for a group.)
func TestQuotaHoldsForGroup(t *testing.T) {
	const rpm, perTenant = 120, 15
	h := newHarness(t, 2, 4, sandbox.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var t0, t1 []string
	for i := range perTenant {
		t0 = append(t0, h.api.PutLead("tenant-0", newLead(i)))
		t1 = append(t1, h.api.PutLead("tenant-1", newLead(100+i)))
	}
	// tenant-0's first leads answer 429 for a while: that token slows down.
	for _, id := range t0[:3] {
		h.api.FailNext(id, sandbox.Repeat(sandbox.Fault{Status: 429, RetryAfter: 2 * time.Second}, 2)...)
	}
	// Both members first, so the measurement starts from a settled group
	// (each holding half the partitions, so half the budget).
	reg1, reg2 := prometheus.NewRegistry(), prometheus.NewRegistry()
	h.start("q1", func(c *enrich.Config) { c.RequestsPerMinute, c.Metrics, c.RetryFor = rpm, reg1, time.Minute })
	h.start("q2", func(c *enrich.Config) { c.RequestsPerMinute, c.Metrics, c.RetryFor = rpm, reg2, time.Minute })
	waitFor(t, 30*time.Second, "the group to split the partitions", func() bool {
		return gauge(t, reg1, "leadbridge_enrich_quota_share") == 0.5 && gauge(t, reg2, "leadbridge_enrich_quota_share") == 0.5
	})
	for i := range perTenant {
		h.auroraEvent(ctx, "tenant-0", "lead_created", t0[i])
		h.auroraEvent(ctx, "tenant-1", "lead_created", t1[i])
	}
	leadsTail := h.tail(ctx, h.leads)
	waitFor(t, 90*time.Second, "a record for every lead of both tenants", func() bool {
		_, last := leadsTail.snapshot()
		return len(last) == 2*perTenant
	})
	for tenant, tok := range h.tokens {
		for _, w := range []time.Duration{10 * time.Second, 5 * time.Second} {
			limit := int(float64(rpm) * w.Seconds() / 60)
			if got := h.api.MaxCallsInWindow(tok.Reveal(), w); got > limit {
				t.Errorf("%s: %d calls in a %v window, quota allows %d", tenant, got, w, limit)
			}
		}
		t.Logf("%s: %d calls, at most %d in any 10s window", tenant, len(h.api.Calls(tok.Reveal())), h.api.MaxCallsInWindow(tok.Reveal(), 10*time.Second))
	}
}

func contains(ids []string, key string) bool {
	for _, id := range ids {
		if len(key) >= len(id) && key[len(key)-len(id):] == id {
			return true
		}
	}
	return false
}

// gauge returns the value of an unlabelled gauge (or counter) registered in reg.
func gauge(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			if c := mf.GetMetric()[0].GetCounter(); c != nil {
				return c.GetValue()
			}
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	tb.Fatalf("no gauge or counter %s", name)
	return 0
}

// A burst of events for one lead is served by fewer API calls than events,
// and, the lead not changing, by exactly one record.
func TestCoalescing(t *testing.T) {
	const burst = 20
	h := newHarness(t, 1, 1, sandbox.Options{Latency: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	id := h.api.PutLead("tenant-0", newLead(1))
	for range burst {
		h.auroraEvent(ctx, "tenant-0", "lead_changed", id)
	}
	reg := prometheus.NewRegistry()
	h.start("c1", func(c *enrich.Config) { c.Metrics = reg })
	waitFor(t, 30*time.Second, "every event to be served", func() bool {
		n := 0.0
		for _, outcome := range []string{"produced", "coalesced", "unchanged"} {
			n += counter(t, reg, "leadbridge_enrich_records_total", outcome)
		}
		return n >= burst // an aborted batch is counted again when it is re-read
	})
	calls := h.api.Stats().ByLead[id]
	t.Logf("%d events, %d API calls", burst, calls)
	if calls >= burst {
		t.Fatalf("%d API calls for %d events: nothing was coalesced", calls, burst)
	}
	if n := len(h.readAll(ctx, h.leads, 1, time.Second)); n != 1 {
		t.Fatalf("%d lead records for an unchanging lead, want 1", n)
	}
}

// counter is leadbridge_enrich_records_total's value for an outcome, summed over providers.
func counter(tb testing.TB, reg *prometheus.Registry, name, outcome string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "outcome" && lp.GetValue() == outcome {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// Members joining one after another while the raw topic is idle leave each
// member with the share of the budget its partitions give, also after two
// rebalances with no transaction between them (kgo's transact session
// calls the member's revoke callback only once until a transaction ends).
// A member that kept a partition it lost took a share of the budget for it.
func TestQuotaShareAfterRebalancesWhileIdle(t *testing.T) {
	h := newHarness(t, 1, 3, sandbox.Options{})
	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry(), prometheus.NewRegistry()}
	share := func(i int) float64 { return gauge(t, regs[i], "leadbridge_enrich_quota_share") }
	for i, reg := range regs {
		h.start(fmt.Sprintf("i%d", i), func(c *enrich.Config) { c.Metrics = reg })
		waitFor(t, 30*time.Second, fmt.Sprintf("member %d to take a share", i), func() bool { return share(i) > 0 })
	}
	waitFor(t, 30*time.Second, "a third of the budget each", func() bool {
		return share(0) == 1.0/3 && share(1) == 1.0/3 && share(2) == 1.0/3
	})
}
