package enrich_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
)

// gate holds every API call until it is opened.
type gate struct {
	next enrich.LeadFetcher
	open chan struct{}
	once sync.Once
}

func newGate(next enrich.LeadFetcher) *gate { return &gate{next: next, open: make(chan struct{})} }

func (g *gate) RetrieveLead(ctx context.Context, tenant, token, leadID string) ([]byte, error) {
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.next.RetrieveLead(ctx, tenant, token, leadID)
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// modes runs f for exactly-once and for at-least-once.
func modes(t *testing.T, f func(t *testing.T, atLeastOnce bool)) {
	for _, alo := range []bool{false, true} {
		t.Run(fmt.Sprintf("exactly_once=%v", !alo), func(t *testing.T) { f(t, alo) })
	}
}

// The member's lag gauge is the brokers' figure, high watermark minus the
// group's committed offset, in both modes: while every API call is held,
// nothing commits and the gauge climbs to what the brokers say; released,
// it falls to 0. A second member taking one partition takes its series
// away from the first.
func TestLagGaugeIsTheBrokersFigure(t *testing.T) {
	modes(t, func(t *testing.T, alo bool) {
		const events = 30
		h := newHarness(t, 1, 2, sandbox.Options{})
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		reg := prometheus.NewRegistry()
		var g *gate
		h.startWith("l1", func(f enrich.LeadFetcher) enrich.LeadFetcher { g = newGate(f); return g },
			func(c *enrich.Config) {
				c.Metrics, c.AtLeastOnce, c.LagInterval = reg, alo, 200*time.Millisecond
				// A held batch stays open rather than moving to the retry topic.
				c.BatchFor, c.TransactionTimeout, c.RequestTimeout = time.Minute, 3*time.Minute, 2*time.Minute
			})
		defer g.release()
		for i := range events {
			h.auroraEvent(ctx, "tenant-0", "lead_created", h.api.PutLead("tenant-0", newLead(i)))
		}
		adm := kadm.NewClient(h.producer)
		waitFor(t, time.Minute, "the lag gauge to equal the brokers' lag", func() bool {
			want, total := brokerLag(t, adm, h.group, h.raw)
			got := lagGauges(t, reg)
			return total == events && equalLag(got, want)
		})
		waitFor(t, 30*time.Second, "the held records to count as outstanding", func() bool {
			return gauge(t, reg, "leadbridge_enrich_outstanding_records") >= 1
		})
		if n := gauge(t, reg, "leadbridge_enrich_outstanding_records"); n > events {
			t.Errorf("outstanding_records %v while every API call is held, want at most %d", n, events)
		}
		g.release()
		waitFor(t, time.Minute, "the lag gauge to fall to 0", func() bool {
			got := lagGauges(t, reg)
			return len(got) == 2 && got[0] == 0 && got[1] == 0
		})
		h.waitCommitted(t, events, 10*time.Second)
		waitFor(t, 10*time.Second, "no outstanding records", func() bool {
			return gauge(t, reg, "leadbridge_enrich_outstanding_records") == 0
		})

		reg2 := prometheus.NewRegistry()
		h.start("l2", func(c *enrich.Config) { c.Metrics, c.AtLeastOnce, c.LagInterval = reg2, alo, 200*time.Millisecond })
		waitFor(t, time.Minute, "each member to report only the partition it owns", func() bool {
			a, b := lagGauges(t, reg), lagGauges(t, reg2)
			if len(a) != 1 || len(b) != 1 {
				return false
			}
			for p := range a {
				if _, both := b[p]; both {
					return false
				}
			}
			return true
		})
	})
}

// brokerLag is the group's lag on raw per partition, from the brokers: the
// high watermark minus the committed offset, or minus the log start offset
// where nothing is committed.
func brokerLag(tb testing.TB, adm *kadm.Client, group, raw string) (map[int32]float64, int64) {
	tb.Helper()
	ctx := tb.Context()
	ends, err := adm.ListEndOffsets(ctx, raw)
	if err != nil {
		tb.Fatal(err)
	}
	starts, err := adm.ListStartOffsets(ctx, raw)
	if err != nil {
		tb.Fatal(err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		tb.Fatal(err)
	}
	out := map[int32]float64{}
	var total int64
	for p, end := range ends[raw] {
		from := starts[raw][p].Offset
		if o, ok := committed.Lookup(raw, p); ok && o.Err == nil && o.At >= 0 {
			from = o.At
		}
		out[p] = float64(end.Offset - from)
		total += end.Offset - from
	}
	return out, total
}

// lagGauges is leadbridge_enrich_consumer_lag by partition.
func lagGauges(tb testing.TB, reg *prometheus.Registry) map[int32]float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[int32]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "leadbridge_enrich_consumer_lag" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var p int32
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "partition" {
					fmt.Sscan(lp.GetValue(), &p)
				}
			}
			out[p] = m.GetGauge().GetValue()
		}
	}
	return out
}

func equalLag(a, b map[int32]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for p, v := range a {
		if w, ok := b[p]; !ok || w != v {
			return false
		}
	}
	return true
}

// A backlog several times max_outstanding, worked through a slow API, never
// has more than max_outstanding records polled and not committed, in either
// mode (exactly-once clamps max_batch to it), and every record is done.
func TestMaxOutstandingHolds(t *testing.T) {
	modes(t, func(t *testing.T, alo bool) {
		const events, bound = 300, 50
		h := newHarness(t, 1, 4, sandbox.Options{Latency: 20 * time.Millisecond})
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		// The backlog is there before the member starts, so its first
		// fetch could take far more than the bound.
		for i := range events {
			h.auroraEvent(ctx, "tenant-0", "lead_created", h.api.PutLead("tenant-0", newLead(i)))
		}
		reg := prometheus.NewRegistry()
		m := h.start("o1", func(c *enrich.Config) { c.Metrics, c.AtLeastOnce, c.MaxOutstanding = reg, alo, bound })
		var seen float64
		waitFor(t, 90*time.Second, "the whole backlog committed", func() bool {
			seen = max(seen, gauge(t, reg, "leadbridge_enrich_outstanding_records"))
			return committedSum(t, h) >= events
		})
		peak := m.e.PeakOutstanding()
		t.Logf("max_outstanding %d: at most %d held after a poll, %v outstanding seen by scrapes", bound, peak, seen)
		if peak > bound || seen > bound {
			t.Fatalf("%d records held (%v seen outstanding), max_outstanding is %d", peak, seen, bound)
		}
		if peak == 0 {
			t.Fatal("no poll was ever seen holding a record: the measurement is broken")
		}
		if n := len(h.readAll(ctx, h.leads, events, time.Second)); n < events {
			t.Fatalf("%d lead records for %d leads", n, events)
		}
	})
}

// committedSum is the raw records the group has committed, over all partitions.
func committedSum(tb testing.TB, h *harness) int64 {
	tb.Helper()
	os, err := kadm.NewClient(h.producer).FetchOffsets(tb.Context(), h.group)
	if err != nil {
		return 0
	}
	var sum int64
	os.Each(func(o kadm.OffsetResponse) {
		if o.Topic == h.raw {
			sum += o.At
		}
	})
	return sum
}
