package enrich_test

import (
	"context"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

// An API slower than a round of calls but well within BatchFor: a backlog
// of three rounds does not fit in one transaction's window, and the calls
// the batch cuts short (or never starts) are the batch's doing, not the
// API's. They must not count as failures: with a retry_for of 1 s a
// counted cut sent leads to the DLQ. Every lead gets its record.
func TestSlowAPICallsCutByTheBatchAreNotFailures(t *testing.T) {
	h := newHarness(t, 1, 1, sandbox.Options{})
	h.api.SetLatency(1200*time.Millisecond, 0)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	const n = 6
	for i := range n {
		h.auroraEvent(ctx, "tenant-0", "lead_changed", h.api.PutLead("tenant-0", newLead(i)))
	}
	h.start("m1", func(c *enrich.Config) {
		c.MaxInFlight, c.RetryFor, c.BatchFor, c.TransactionTimeout = 2, time.Second, 2*time.Second, 8*time.Second
	})
	leads, dlq := h.tail(ctx, h.leads), h.tail(ctx, h.dlq)
	waitFor(t, 100*time.Second, "a lead or DLQ record for every lead", func() bool {
		_, l := leads.snapshot()
		_, d := dlq.snapshot()
		return len(l)+len(d) >= n
	})
	if all, _ := dlq.snapshot(); len(all) > 0 {
		t.Fatalf("%d of %d leads in the DLQ behind a 1.2 s API, BatchFor 2 s (reason %q)", len(all), n,
			schema.Header(all[0], schema.HeaderDLQReason))
	}
	if _, last := leads.snapshot(); len(last) != n {
		t.Fatalf("%d leads with a record, want %d", len(last), n)
	}
}
