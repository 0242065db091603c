package enrich_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

// erasures is how many erasure events the member has applied (in memory,
// in the open transaction).
func erasures(tb testing.TB, reg *prometheus.Registry) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	n := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "leadbridge_enrich_records_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "outcome" && lp.GetValue() == "erase" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// A call made ahead that is still waiting for an in-flight slot when its
// lead's event gives up (the batch ended) must not reach the API once the
// erasure that follows that event was applied: the API is never called for
// an erased lead key.
//
// One partition, max_in_flight 2. Lead H holds a slot through transaction
// 1, whose drain polls the events of L1..L3 ahead: one of their calls takes
// the other slot, two queue. Their erasures arrive next and join
// transaction 2 behind them. The calls that run hold their slots until all
// three erasures are applied, so transaction 2's events of L1..L3 give up
// at the end of its batch (to the retry topic), the erasures are applied,
// and then a queued call ahead gets a slot.
func TestCallAheadNeverAfterErasure(t *testing.T) {
	h := newHarness(t, 1, 1, sandbox.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	hold := h.api.PutLead("tenant-0", newLead(1))
	var ls []string
	for i := range 3 {
		ls = append(ls, h.api.PutLead("tenant-0", newLead(10+i)))
	}
	reg := prometheus.NewRegistry()
	releaseH := make(chan struct{})
	var hCalled, lCalled atomic.Int32
	var mu sync.Mutex
	var leaked []string
	wrap := func(f enrich.LeadFetcher) enrich.LeadFetcher {
		return fetcherFunc(func(ctx context.Context, tenant, token, id string) ([]byte, error) {
			if id == hold {
				if hCalled.Add(1) == 1 {
					<-releaseH
				}
				return f.RetrieveLead(ctx, tenant, token, id)
			}
			lCalled.Add(1)
			if erasures(t, reg) >= 3 && ctx.Err() == nil {
				mu.Lock()
				leaked = append(leaked, id)
				mu.Unlock()
			}
			// Hold the slot until the erasures are applied (bounded).
			deadline := time.Now().Add(20 * time.Second)
			for erasures(t, reg) < 3 && time.Now().Before(deadline) && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			return f.RetrieveLead(ctx, tenant, token, id)
		})
	}
	h.auroraEvent(ctx, "tenant-0", "lead_changed", hold)
	m := h.startWith("a1", wrap, func(c *enrich.Config) {
		c.MaxInFlight, c.BatchFor, c.Metrics = 2, time.Second, reg
	})
	var once sync.Once
	release := func() { once.Do(func() { close(releaseH) }) }
	t.Cleanup(release) // runs before the member's stop
	waitFor(t, time.Minute, "the call for H", func() bool { return hCalled.Load() > 0 })
	// Each group in one produce, so that one fetch (and one poll) has it.
	produce := func(evs ...schema.Event) {
		var rs []*kgo.Record
		for _, ev := range evs {
			r := ev.Record()
			r.Topic = h.raw
			rs = append(rs, r)
		}
		if err := h.producer.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var changed, erase []schema.Event
	for _, id := range ls {
		data, _ := json.Marshal(schema.AuroraData{Event: "lead_changed", TenantID: "tenant-0", Attributes: map[string]string{"lead_id": id}})
		changed = append(changed, schema.Event{ID: uuid.NewString(), Source: schema.AuroraSource("tenant-0"),
			Type: schema.AuroraTypePrefix + "lead_changed", Subject: id, Time: time.Now().UTC(),
			PartitionKey: schema.AuroraKey("tenant-0", id), Data: data})
		erase = append(erase, schema.ErasureEvent(uuid.NewString(), schema.AuroraKey("tenant-0", id), true, time.Now()))
	}
	produce(changed...)
	waitFor(t, 30*time.Second, "the calls ahead", func() bool { return lCalled.Load() > 0 && m.client.BufferedFetchRecords() == 0 })
	produce(erase...)
	waitFor(t, 30*time.Second, "the erasures to be fetched", func() bool { return m.client.BufferedFetchRecords() >= 3 })
	release()
	h.waitCommitted(t, 7, time.Minute)
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) > 0 {
		t.Fatalf("Retrieve Lead called for erased lead(s) %v: a call ahead outlived its event and ran after the erasure", leaked)
	}
	if erasures(t, reg) < 3 {
		t.Fatalf("only %v erasures applied: the test never reached its point", erasures(t, reg))
	}
}
