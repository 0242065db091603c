package enrich_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

// A member stopped mid-backlog while its API calls take longer than
// shutdown_grace (as `leadbridge enrich` stops on SIGTERM: its context ends,
// Run returns, the client is closed and leaves the group) is gone within
// shutdown_grace + 5 s, issue 7's bound. What it had not committed is done
// by the next member: a read_committed reader sees every lead once.
func TestShutdownWithinGrace(t *testing.T) {
	const leadsN, grace, latency = 120, 2 * time.Second, 2500 * time.Millisecond
	h := newHarness(t, 1, 2, sandbox.Options{Latency: latency})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var ids []string
	for i := range leadsN {
		ids = append(ids, h.api.PutLead("tenant-0", newLead(i)))
		h.auroraEvent(ctx, "tenant-0", "lead_changed", ids[i])
	}
	reg := prometheus.NewRegistry()
	// Batches of 20 leads, each a wave of 2.5 s calls that fits the batch.
	slow := func(c *enrich.Config) {
		c.ShutdownGrace, c.BatchFor, c.MaxBatch, c.MaxInFlight, c.RetryFor = grace, 3*time.Second, 20, 20, time.Minute
		c.Metrics = reg
	}
	m := h.start("s1", slow)
	h.waitCommitted(t, 20, time.Minute) // a batch is done: mid-backlog
	waitFor(t, time.Minute, "API calls in flight", func() bool { return gauge(t, reg, "leadbridge_enrich_api_inflight") > 0 })
	start := time.Now()
	m.cancel()
	<-m.done
	ran := time.Since(start)
	m.e.Client().Close()
	took := time.Since(start)
	t.Logf("shutdown with calls of %v in flight: Run returned after %v, the client closed (left the group) after %v; shutdown_grace %v",
		latency, ran.Round(time.Millisecond), took.Round(time.Millisecond), grace)
	if took > grace+5*time.Second {
		t.Fatalf("shutdown took %v, over shutdown_grace + 5 s (%v)", took, grace+5*time.Second)
	}

	h.api.SetLatency(5*time.Millisecond, 0)
	h.start("s2")
	h.waitCommitted(t, leadsN, 2*time.Minute)
	recs := h.leadsOf(h.readAll(ctx, h.leads, leadsN, 2*time.Second))
	per := map[string]int{}
	for _, r := range recs {
		per[r.key]++
	}
	lost, dups := 0, 0
	for _, id := range ids {
		switch n := per[schema.AuroraKey("tenant-0", id)]; {
		case n == 0:
			lost++
		case n > 1:
			dups += n - 1
		}
	}
	if dlq := h.readAll(ctx, h.dlq, 0, time.Second); len(dlq) != 0 {
		t.Errorf("%d DLQ records, want none", len(dlq))
	}
	if lost != 0 || dups != 0 {
		t.Fatalf("%d leads lost, %d duplicate records after the shutdown; want 0 and 0", lost, dups)
	}
}
