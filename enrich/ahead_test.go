package enrich_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

// Calls ahead meet aborts: a backlog of Aurora leads, with LeadPro leads
// among them whose records the leads topic refuses. Each refusal aborts a
// transaction while the next one's first records are polled and their calls
// made ahead, and kgo's committed view is ahead of the brokers' for the
// records polled ahead before the last commit. Every Aurora lead still gets
// exactly one record, every refused lead one DLQ record, and the group
// commits every raw record (none skipped by a rewind to kgo's view, none
// left behind by a commit that stopped at records polled ahead). Most of
// its transactions abort, so few answers ahead are taken: what it tests is
// the offsets, and it checks that an abort met records polled ahead.
func TestCallsAheadSurviveAborts(t *testing.T) {
	h := newHarness(t, 1, 2, sandbox.Options{Latency: 5 * time.Millisecond, Jitter: 20 * time.Millisecond})
	compact, limit := "compact", "20000"
	h.leads = kafkatest.Topic(t, h.b, "leads-small", 2, map[string]*string{"cleanup.policy": &compact, "max.message.bytes": &limit})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	const n, every = 2400, 300
	want := map[string]bool{}
	refused := 0
	for i := range n {
		if i%every == every/2 {
			id := strconv.Itoa(1000 + i)
			data := `{"event":"lead.created","data":{"id":` + id + `,"full_name":"Ada Lovelace","notes":"` + randomNotes(60_000) + `"}}`
			h.produceRaw(ctx, schema.Event{ID: uuid.Must(uuid.NewV7()).String(), Source: schema.LeadProSource("9999"),
				Type: schema.LeadProTypePrefix + "lead.created", Subject: id, Time: time.Now().UTC(),
				PartitionKey: schema.LeadProKey("9999", id), Data: json.RawMessage(data)})
			refused++
		}
		id := h.api.PutLead("tenant-0", newLead(i))
		want[schema.AuroraKey("tenant-0", id)] = true
		h.auroraEvent(ctx, "tenant-0", "lead_changed", id)
	}
	reg := prometheus.NewRegistry()
	m := h.start("a1", func(c *enrich.Config) { c.MaxInFlight, c.MaxBatch = 16, 128; c.Metrics = reg })
	h.waitCommitted(t, int64(n+refused), 2*time.Minute)

	got := map[string]int{}
	for _, l := range h.leadsOf(kafkatest.ReadCommitted(t, h.b, h.leads)) {
		got[l.key]++
	}
	for key, c := range got {
		if !want[key] || c != 1 {
			t.Errorf("lead %s: %d records, want %d", key, c, map[bool]int{true: 1}[want[key]])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d of %d Aurora leads have a record", len(got), len(want))
	}
	dlq := map[string]int{}
	for _, r := range kafkatest.ReadCommitted(t, h.b, h.dlq) {
		dlq[schema.Header(r, schema.HeaderDLQOffset)]++
	}
	if len(dlq) != refused {
		t.Errorf("%d raw records in the DLQ (%v), want the %d refused ones once each", len(dlq), dlq, refused)
	}
	if a := gauge(t, reg, "leadbridge_enrich_transactions_aborted_total"); a < 1 {
		t.Errorf("%v transactions aborted: the test never aborted one", a)
	}
	if m.e.Rewinds() == 0 {
		t.Error("no abort found kgo's committed view ahead of the brokers': the test never met records polled ahead")
	}
	t.Logf("aborts %v, of them after records polled ahead %d, answers ahead taken %d, API calls %d for %d Aurora leads",
		gauge(t, reg, "leadbridge_enrich_transactions_aborted_total"), m.e.Rewinds(), m.e.CallsAheadUsed(), h.api.Stats().ByRoute[sandbox.RouteRetrieveLead], n)
}
