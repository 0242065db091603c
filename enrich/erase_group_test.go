package enrich_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

// With a member running, both delivery modes: an erasure event on raw gives
// the key's tombstone; a later webhook for the key, once committed past,
// gives nothing; after the unerase event the next webhook gives the record
// again; and a member that takes over the partition (exactly-once: from the
// state topic) still knows the key was erased.
func TestErasureThroughGroup(t *testing.T) {
	for _, atLeastOnce := range []bool{false, true} {
		name := "exactly_once"
		if atLeastOnce {
			name = "at_least_once"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, 1, 2, sandbox.Options{})
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			mode := func(c *enrich.Config) { c.AtLeastOnce = atLeastOnce }
			m := h.start("e1", mode)
			id := h.api.PutLead("tenant-0", newLead(1))
			key := schema.AuroraKey("tenant-0", id)
			sent := int64(0)
			step := func(ev func()) {
				ev()
				sent++
				h.waitCommitted(t, sent, time.Minute)
			}
			webhook := func() { h.auroraEvent(ctx, "tenant-0", "lead_changed", id) }
			erasure := func(erase bool) func() {
				return func() { h.produceRaw(ctx, schema.ErasureEvent(uuid.NewString(), key, erase, time.Now())) }
			}

			step(webhook)
			step(erasure(true))
			recs := h.readAll(ctx, h.leads, 2, time.Second)
			if len(recs) != 2 || recs[1].Value != nil || string(recs[1].Key) != key {
				t.Fatalf("%d records on leads, want the lead then its tombstone", len(recs))
			}
			h.api.UpdateLead("tenant-0", id, map[string]any{"status": "changed"})
			step(webhook)
			if !atLeastOnce { // the erased flag survives a takeover through the state topic
				m.stop()
				m = h.start("e2", mode)
				step(webhook)
			}
			if n := len(h.readAll(ctx, h.leads, 2, time.Second)); n != 2 {
				t.Fatalf("an erased key's webhook gave %d record(s)", n-2)
			}
			step(erasure(false))
			step(webhook)
			recs = h.readAll(ctx, h.leads, 3, time.Second)
			if len(recs) != 3 || recs[2].Value == nil {
				t.Fatalf("after the unerase event, %d records on leads, want one more lead record", len(recs))
			}
			h.leadsOf(recs[2:])
		})
	}
}
