package enrich

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/leadbridge/leadbridge/schema"
)

// Past its limit an at-least-once store forgets down to 90% of it; a
// transaction's changes show at once to readers and survive only a commit.
func TestStateStore(t *testing.T) {
	s := newStateStore(100)
	for i := range 101 {
		s.put(idOf(fmt.Sprint("k", i)), keyState{updated: int64(i)}, false)
	}
	if n := s.len(); n != 90 {
		t.Fatalf("%d keys after passing the limit of 100, want 90", n)
	}
	tx := newStateStore(0)
	tx.put(idOf("a"), keyState{updated: 1}, true)
	if k, ok := tx.get(idOf("a")); !ok || k.updated != 1 {
		t.Fatal("a pending change is not visible")
	}
	tx.settle(false)
	if _, ok := tx.get(idOf("a")); ok {
		t.Fatal("an aborted change survived")
	}
	tx.put(idOf("a"), keyState{updated: 2}, true)
	tx.settle(true)
	if k, ok := tx.get(idOf("a")); !ok || k.updated != 2 {
		t.Fatal("a committed change was lost")
	}
	for range 300_000 { // the exactly-once store is never evicted
		tx.put(idOf(fmt.Sprint(tx.len())), keyState{}, false)
	}
	if tx.len() < 300_000 {
		t.Fatal("the durable store forgot keys")
	}
}

// The same state again is not produced (unchanged), an older one is not
// produced (stale), and a change is.
func TestNoOpAndStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var body atomic.Value
		u := newUnit(t, fetcherFunc(func(context.Context, string, string, string) ([]byte, error) {
			return body.Load().([]byte), nil
		}))
		step := func(b []byte) {
			body.Store(b)
			u.aurora("lead_changed", "L1")
			u.wait()
		}
		step(leadBody("L1", "2026-01-02T00:00:00Z"))
		step(leadBody("L1", "2026-01-02T00:00:00Z")) // the same webhook again
		step(leadBody("L1", "2026-01-02T00:00:00Z"))
		step(leadBody("L1", "2026-01-01T00:00:00Z", "status", "old")) // a lagging replica
		step(leadBody("L1", "2026-01-03T00:00:00Z", "status", "new"))
		leads := u.leads(t)
		if len(leads) != 2 || leads[1].Status != "new" {
			t.Fatalf("%d records (%+v), want the first and the newest", len(leads), leads)
		}
		for outcome, want := range map[string]float64{"unchanged": 2, "stale": 1, "produced": 2} {
			if got := u.counter(t, "leadbridge_enrich_records_total", map[string]string{"outcome": outcome, "provider": schema.ProviderAurora}); got != want {
				t.Errorf("outcome %s counted %v, want %v", outcome, got, want)
			}
		}
	})
}

// Aurora sends a lead's source with lead_created only. A lead_changed record
// of a later batch carries the source the key's state remembers, also after
// the state went through the state topic (a restart or rebalance restores
// it from there); a lead whose provider never sent one has none.
func TestSourceCarriedByState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var body atomic.Value
		u := newUnit(t, fetcherFunc(func(context.Context, string, string, string) ([]byte, error) {
			return body.Load().([]byte), nil
		}))
		step := func(event, id, updated, status string, attrs ...string) {
			body.Store(leadBody(id, updated, "status", status))
			u.aurora(event, id, attrs...)
			u.wait()
		}
		step("lead_created", "L1", "2026-01-02T00:00:00Z", "new", "source", "lcai")
		step("lead_changed", "L1", "2026-01-03T00:00:00Z", "contacted")
		step("lead_created", "L2", "2026-01-02T00:00:00Z", "new") // no source sent
		step("lead_changed", "L2", "2026-01-03T00:00:00Z", "contacted")
		// A new member restores the partition's state from its records.
		restored := newStateStore(0)
		for _, r := range u.out.recs {
			if r.Topic != "leads" {
				continue
			}
			var l schema.Lead
			if err := json.Unmarshal(r.Value, &l); err != nil {
				t.Fatal(err)
			}
			k, _ := u.part.state.get(idOf(l.Key))
			s, err := schema.DecodeLeadState(schema.EncodeLeadState(k.lead()))
			if err != nil {
				t.Fatal(err)
			}
			restored.m[idOf(l.Key)] = stateOf(s)
		}
		u.part.state = restored
		step("lead_changed", "L1", "2026-01-04T00:00:00Z", "qualified")
		step("lead_changed", "L1", "2026-01-04T00:00:00Z", "qualified") // the same again: unchanged
		want := []struct{ id, status, source string }{
			{"L1", "new", "lcai"}, {"L1", "contacted", "lcai"}, {"L2", "new", ""}, {"L2", "contacted", ""}, {"L1", "qualified", "lcai"},
		}
		leads := u.leads(t)
		if len(leads) != len(want) {
			t.Fatalf("%d records, want %d: %+v", len(leads), len(want), leads)
		}
		for i, w := range want {
			if l := leads[i]; l.LeadID != w.id || l.Status != w.status || l.Source != w.source {
				t.Errorf("record %d: lead %s status %s source %q, want %s %s %q", i, l.LeadID, l.Status, l.Source, w.id, w.status, w.source)
			}
		}
	})
}
