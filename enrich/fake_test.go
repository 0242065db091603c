package enrich

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/leadbridge/leadbridge/schema"
)

// fetcherFunc is a func-field fake LeadFetcher (WTF's mock/ style).
type fetcherFunc func(ctx context.Context, tenant, token, leadID string) ([]byte, error)

func (f fetcherFunc) RetrieveLead(ctx context.Context, tenant, token, leadID string) ([]byte, error) {
	return f(ctx, tenant, token, leadID)
}

// recorder is a writer that keeps what it is given.
type recorder struct {
	mu   sync.Mutex
	recs []*kgo.Record
	fail error // when set, every write is refused with it
}

func (r *recorder) txn() bool { return false }

func (r *recorder) write(_ *partition, _ []*item, recs ...*kgo.Record) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return false, r.fail
	}
	r.recs = append(r.recs, recs...)
	return true, nil
}

func (r *recorder) topic(t string) []*kgo.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*kgo.Record
	for _, rec := range r.recs {
		if rec.Topic == t {
			out = append(out, rec)
		}
	}
	return out
}

// unit is an Enricher with no broker: one owned partition, a recorder as
// its writer, and fetch as its API.
type unit struct {
	e    *Enricher
	out  *recorder
	part *partition
	reg  *prometheus.Registry
	next int64 // next raw offset
}

func newUnit(tb testing.TB, fetch LeadFetcher, mutate ...func(*Config)) *unit {
	tb.Helper()
	reg := prometheus.NewRegistry()
	cfg := Config{RawTopic: "raw", LeadsTopic: "leads", DLQTopic: "dlq", Metrics: reg, AtLeastOnce: true,
		APITokens: map[string]schema.Secret{"t1": "tok-1"}, RequestsPerMinute: 6000,
		BackoffBase: 100 * time.Millisecond, BackoffMax: 2 * time.Second,
		RetryFor: time.Minute, NotFoundRetryFor: 20 * time.Second}
	for _, m := range mutate {
		m(&cfg)
	}
	e, err := New(cfg, fetch, zaptest.NewLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	u := &unit{e: e, out: &recorder{}, reg: reg}
	e.out = u.out
	u.part = newPartition(e.workCtx, "raw", 0, newStateStore(maxRemembered))
	e.parts[0] = u.part
	e.quota.setShare(1, 1)
	return u
}

// aurora feeds an Aurora webhook event for lead id of tenant t1.
func (u *unit) aurora(event, leadID string, attrs ...string) {
	a := map[string]string{"lead_id": leadID}
	for i := 0; i+1 < len(attrs); i += 2 {
		a[attrs[i]] = attrs[i+1]
	}
	data, _ := json.Marshal(schema.AuroraData{Event: event, TenantID: "t1", Attributes: a})
	u.feed(schema.Event{ID: fmt.Sprintf("ev-%d", u.next), Source: schema.AuroraSource("t1"),
		Type: schema.AuroraTypePrefix + event, Subject: leadID, Time: time.Now().UTC(),
		PartitionKey: schema.AuroraKey("t1", leadID), Data: data})
}

func (u *unit) feed(ev schema.Event) {
	r := ev.Record()
	r.Topic, r.Offset = "raw", u.next
	u.next++
	u.e.dispatch(u.part, r)
}

// wait lets every worker finish.
func (u *unit) wait() { u.e.workers.Wait() }

// dlqReasons lists the DLQ reasons written, in order.
func (u *unit) dlqReasons() []string {
	var out []string
	for _, r := range u.out.topic("dlq") {
		out = append(out, schema.Header(r, schema.HeaderDLQReason))
	}
	return out
}

func (u *unit) leads(tb testing.TB) []schema.Lead {
	tb.Helper()
	var out []schema.Lead
	for _, r := range u.out.topic("leads") {
		var l schema.Lead
		if err := json.Unmarshal(r.Value, &l); err != nil {
			tb.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// counter is the value of leadbridge_enrich_records_total or _dlq_total for labels.
func (u *unit) counter(tb testing.TB, name string, labels map[string]string) float64 {
	tb.Helper()
	mfs, err := u.reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// leadBody is a Retrieve Lead body.
func leadBody(id, updatedAt string, extra ...string) []byte {
	m := map[string]any{"id": id, "updated_at": updatedAt, "created_at": "2026-01-01T00:00:00Z",
		"customer": map[string]any{"customer_first_name": "Jane"}}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	b, _ := json.Marshal(m)
	return b
}
