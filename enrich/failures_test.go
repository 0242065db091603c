package enrich_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

// Each failure ends where the contract says: retried into a record, or the
// raw record unchanged in the DLQ with its reason, attempts, times and origin.
// A poison record never stalls its partition.
func TestFailuresEndInRecordOrDLQ(t *testing.T) {
	h := newHarness(t, 2, 1, sandbox.Options{})
	h.tokens["tenant-1"] = "wrong-token" // the sandbox answers 401
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	late := h.api.PutLead("tenant-0", newLead(1))
	h.api.FailNext(late, sandbox.Repeat(sandbox.Fault{Status: 404}, 2)...)
	flaky := h.api.PutLead("tenant-0", newLead(2))
	h.api.FailNext(flaky, sandbox.Fault{Status: 500}, sandbox.Fault{Status: 503}, sandbox.Fault{Status: 429, RetryAfter: time.Second})
	denied := h.api.PutLead("tenant-1", newLead(3))
	after := h.api.PutLead("tenant-0", newLead(4))

	// A record that is not a CloudEvent, first on the (single) partition.
	poison := &kgo.Record{Topic: h.raw, Key: []byte("aurora:tenant-0:x"), Value: []byte(`{"not":"an event"}`),
		Headers: []kgo.RecordHeader{{Key: "ce_type", Value: []byte("x")}}}
	if err := h.producer.ProduceSync(ctx, poison).FirstErr(); err != nil {
		t.Fatal(err)
	}
	h.auroraEvent(ctx, "tenant-0", "lead_created", late)
	h.auroraEvent(ctx, "tenant-0", "lead_created", flaky)
	h.auroraEvent(ctx, "tenant-0", "lead_created", "no-such-lead")
	h.auroraEvent(ctx, "tenant-1", "lead_created", denied)
	h.auroraEvent(ctx, "tenant-9", "lead_created", "whatever") // no API token configured
	h.auroraEvent(ctx, "tenant-0", "project_created", "ignored")
	h.auroraEvent(ctx, "tenant-0", "lead_changed", after)
	h.start("f1")

	leads := h.leadsOf(h.readAll(ctx, h.leads, 3, 2*time.Second))
	got := map[string]bool{}
	for _, r := range leads {
		got[r.lead.LeadID] = true
	}
	for name, id := range map[string]string{"404 then found": late, "5xx and 429 then ok": flaky, "after the poison": after} {
		if !got[id] {
			t.Errorf("%s: no lead record", name)
		}
	}
	if len(leads) != 3 {
		t.Errorf("%d lead records, want 3", len(leads))
	}

	dlq := h.readAll(ctx, h.dlq, 4, 2*time.Second)
	reasons := map[string]*kgo.Record{}
	for _, r := range dlq {
		reasons[schema.Header(r, schema.HeaderDLQReason)] = r
	}
	for _, want := range []string{"invalid_event", "not_found", "unauthorized", "no_api_token"} {
		r, ok := reasons[want]
		if !ok {
			t.Errorf("no DLQ record with reason %s (have %v)", want, keys(reasons))
			continue
		}
		if schema.Header(r, schema.HeaderDLQTopic) != h.raw || schema.Header(r, schema.HeaderDLQOffset) == "" ||
			schema.Header(r, schema.HeaderDLQPartition) != "0" || schema.Header(r, schema.HeaderDLQLastFailure) == "" ||
			schema.Header(r, schema.HeaderDLQFirstFailure) == "" || schema.Header(r, schema.HeaderDLQError) == "" {
			t.Errorf("%s: DLQ headers incomplete: %v", want, r.Headers)
		}
		if e := schema.Header(r, schema.HeaderDLQError); strings.Contains(e, "api-token-") || strings.Contains(e, "wrong-token") {
			t.Errorf("%s: DLQ error carries a token", want)
		}
	}
	if r := reasons["invalid_event"]; r != nil && (string(r.Value) != string(poison.Value) || string(r.Key) != string(poison.Key)) {
		t.Error("the poison record was changed on its way to the DLQ")
	}
	if r := reasons["unauthorized"]; r != nil {
		if n, _ := strconv.Atoi(schema.Header(r, schema.HeaderDLQAttempts)); n != 1 {
			t.Errorf("401 went to the DLQ after %d attempts, want 1 (at once)", n)
		}
		if _, err := schema.DecodeRecord(r); err != nil {
			t.Errorf("DLQ record lost its CloudEvent headers: %v", err)
		}
	}
	if r := reasons["not_found"]; r != nil {
		if n, _ := strconv.Atoi(schema.Header(r, schema.HeaderDLQAttempts)); n < 2 {
			t.Errorf("404 dead-lettered after %d attempts; it must be retried for a while", n)
		}
	}
	if len(dlq) != 4 {
		t.Errorf("%d DLQ records, want 4", len(dlq))
	}
}

func keys(m map[string]*kgo.Record) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// LeadPro events become records from the verified payload; broken field rules
// are kept and flagged, never dropped.
func TestLeadProRecord(t *testing.T) {
	h := newHarness(t, 1, 1, sandbox.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	payload := `{"event":"lead.created","data":{"id":77,"full_name":"Ada Lovelace","email":"not-an-email","phone":"07000000000","type":"vendor","address":"1 Row","postcode":"N1 3JY"}}`
	h.produceRaw(ctx, schema.Event{ID: uuid.Must(uuid.NewV7()).String(), Source: schema.LeadProSource("9999"),
		Type: schema.LeadProTypePrefix + "lead.created", Subject: "77", Time: time.Now().UTC(),
		PartitionKey: schema.LeadProKey("9999", "77"), Data: json.RawMessage(payload)})
	h.start("lp")
	recs := h.leadsOf(h.readAll(ctx, h.leads, 1, time.Second))
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	l := recs[0].lead
	if l.Key != "leadpro:9999:77" || l.AccountID != "9999" || l.Contact.Email != "not-an-email" || len(l.ValidationProblems) == 0 {
		t.Fatalf("record %+v", l)
	}
	if h.api.Stats().Total != 0 {
		t.Fatal("a LeadPro event called the Aurora API")
	}
}

// A record carrying an older provider updated_at than the last one produced
// for its key is not produced.
func TestOlderStateNotProduced(t *testing.T) {
	h := newHarness(t, 1, 1, sandbox.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	lead := newLead(5)
	lead["updated_at"] = "2026-01-02T00:00:00.000Z"
	id := h.api.PutLead("tenant-0", lead)
	h.start("s1")
	h.auroraEvent(ctx, "tenant-0", "lead_changed", id)
	if n := len(h.readAll(ctx, h.leads, 1, time.Second)); n != 1 {
		t.Fatalf("%d records after the first event", n)
	}
	lead["id"], lead["updated_at"] = id, "2026-01-01T00:00:00.000Z" // a lagging read replica
	h.api.PutLead("tenant-0", lead)
	h.auroraEvent(ctx, "tenant-0", "lead_changed", id)
	waitFor(t, 20*time.Second, "the second API call", func() bool { return h.api.Stats().ByLead[id] >= 2 })
	if n := len(h.readAll(ctx, h.leads, 1, 2*time.Second)); n != 1 {
		t.Fatalf("%d records: older state replaced newer", n)
	}
}
