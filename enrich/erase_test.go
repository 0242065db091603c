package enrich

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leadbridge/leadbridge/schema"
)

// An erasure event is served in its key's order: what came before it is
// produced, then the tombstone; what comes after produces nothing and never
// reaches the API, until the erasure is lifted; then the key starts afresh.
func TestErasureInKeyOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		release := make(chan struct{})
		var body atomic.Value
		body.Store(leadBody("L1", "2026-01-02T00:00:00Z"))
		u := newUnit(t, fetcherFunc(func(context.Context, string, string, string) ([]byte, error) {
			if calls.Add(1) == 1 {
				<-release // the erasure and a later webhook queue up behind the first call
			}
			return body.Load().([]byte), nil
		}))
		key := schema.AuroraKey("t1", "L1")
		erasure := func(erase bool) {
			u.feed(schema.ErasureEvent(fmt.Sprint("erase-", u.next), key, erase, time.Now()))
		}
		u.aurora("lead_changed", "L1")
		erasure(true)
		u.aurora("lead_changed", "L1")
		synctest.Wait()
		close(release)
		u.wait()
		leads := u.out.topic("leads")
		if len(leads) != 2 || leads[0].Value == nil || leads[1].Value != nil || string(leads[1].Key) != key ||
			schema.Header(leads[1], schema.HeaderErasedAt) == "" {
			t.Fatalf("leads got %d records, want the lead then its tombstone", len(leads))
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("%d API calls, want 1: the event after the erasure reached the API", n)
		}

		body.Store(leadBody("L1", "2026-01-03T00:00:00Z", "status", "changed"))
		u.aurora("lead_changed", "L1") // a later webhook
		erasure(true)                  // forgotten twice: no second tombstone
		u.wait()
		if n := len(u.out.topic("leads")); n != 2 {
			t.Fatalf("an erased key got %d more records on leads", n-2)
		}

		erasure(false)
		u.wait()
		if n := len(u.out.topic("leads")); n != 2 {
			t.Fatal("unforget wrote to leads")
		}
		body.Store(leadBody("L1", "2026-01-02T00:00:00Z")) // the first content again: not a no-op after a tombstone
		u.aurora("lead_changed", "L1")
		u.wait()
		leads = u.out.topic("leads")
		if len(leads) != 3 || leads[2].Value == nil {
			t.Fatalf("after unforget a webhook gave %d records, want its lead record", len(leads)-2)
		}
		for outcome, want := range map[string]float64{"erase": 2, "unerase": 1, "erased": 2, "produced": 2} {
			if got := u.counter(t, "leadbridge_enrich_records_total", map[string]string{"outcome": outcome}); got != want {
				t.Errorf("outcome %s counted %v, want %v", outcome, got, want)
			}
		}
		if len(u.dlqReasons()) != 0 {
			t.Errorf("dead letters: %v", u.dlqReasons())
		}
	})
}

// An erasure event whose key is not a lead key is dead-lettered, never applied.
func TestErasureWithoutLeadKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := newUnit(t, fetcherFunc(func(context.Context, string, string, string) ([]byte, error) {
			t.Error("the API was called")
			return nil, nil
		}))
		u.feed(schema.ErasureEvent("e1", "aurora:t1", true, time.Now()))
		u.wait()
		if got := u.dlqReasons(); len(got) != 1 || got[0] != "invalid_event" || len(u.out.topic("leads")) != 0 {
			t.Fatalf("dlq %v, leads %d", got, len(u.out.topic("leads")))
		}
	})
}

// Past its limit an at-least-once store forgets keys, never an erased one.
func TestEvictionKeepsErasedKeys(t *testing.T) {
	s := newStateStore(100)
	s.put(idOf("erased"), keyState{erased: true}, false)
	for i := range 300 {
		s.put(idOf(fmt.Sprint("k", i)), keyState{updated: int64(i)}, false)
	}
	if k, ok := s.get(idOf("erased")); !ok || !k.erased {
		t.Fatal("eviction forgot an erased key")
	}
}
