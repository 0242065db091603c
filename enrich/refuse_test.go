package enrich_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

// leadProEvent is a LeadPro event of type typ for lead 77 whose data
// carries pad bytes of notes.
func leadProEvent(typ string, pad int) schema.Event {
	data := `{"event":"` + typ + `","data":{"id":77,"full_name":"Ada Lovelace","notes":"` + strings.Repeat("x", pad) + `"}}`
	return schema.Event{ID: uuid.Must(uuid.NewV7()).String(), Source: schema.LeadProSource("9999"),
		Type: schema.LeadProTypePrefix + typ, Subject: "77", Time: time.Now().UTC(),
		PartitionKey: schema.LeadProKey("9999", "77"), Data: json.RawMessage(data)}
}

// randomNotes is n random hex characters: a lead record that does not
// compress below the topic's limit.
func randomNotes(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// A lead record the broker refuses for good (over the leads topic's
// max.message.bytes) sends its raw record to the DLQ as unproducible, and
// the lead behind it on the same partition gets its record: exactly-once
// the refusal aborts the transaction once, not forever.
func TestRefusedLeadRecordGoesToDLQ(t *testing.T) {
	modes(t, func(t *testing.T, alo bool) {
		mode := func(c *enrich.Config) { c.AtLeastOnce = alo }
		h := newHarness(t, 1, 1, sandbox.Options{})
		compact, limit := "compact", "20000"
		h.leads = kafkatest.Topic(t, h.b, "leads-small", 1, map[string]*string{"cleanup.policy": &compact, "max.message.bytes": &limit})
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		big := leadProEvent("lead.created", 0)
		big.Data = json.RawMessage(`{"event":"lead.created","data":{"id":77,"full_name":"Ada Lovelace","notes":"` + randomNotes(60_000) + `"}}`)
		h.produceRaw(ctx, big)
		id := h.api.PutLead("tenant-0", newLead(1))
		h.auroraEvent(ctx, "tenant-0", "lead_changed", id)
		reg := prometheus.NewRegistry()
		h.start("r1", mode, func(c *enrich.Config) { c.Metrics = reg })
		h.waitCommitted(t, 2, 30*time.Second)

		leads := h.leadsOf(h.readAll(ctx, h.leads, 1, 300*time.Millisecond))
		if len(leads) != 1 || leads[0].key != schema.AuroraKey("tenant-0", id) {
			t.Fatalf("%d lead records, want the Aurora lead's only", len(leads))
		}
		dlq := h.readAll(ctx, h.dlq, 1, 300*time.Millisecond)
		if len(dlq) != 1 {
			t.Fatalf("%d DLQ records, want the refused lead's raw record", len(dlq))
		}
		d := dlq[0]
		off, _ := h.rawOffsets.Load(big.ID)
		if got := schema.Header(d, schema.HeaderDLQReason); got != "unproducible" {
			t.Errorf("DLQ reason %q, want unproducible", got)
		}
		if got := schema.Header(d, schema.HeaderDLQOffset); got != strconv.FormatInt(off.(int64), 10) {
			t.Errorf("DLQ record names raw offset %s, want %d", got, off)
		}
		if !bytes.Equal(d.Value, big.Record().Value) || schema.Header(d, schema.HeaderDLQTruncated) != "" {
			t.Errorf("the DLQ record does not carry the raw record unchanged")
		}
		if got := counter(t, reg, "leadbridge_enrich_records_total", "dlq"); got != 1 {
			t.Errorf("records_total{outcome=dlq} = %v, want 1", got)
		}
	})
}

// A raw record whose DLQ copy (its value plus the DLQ headers) cannot fit a
// record batch goes to the DLQ without its value, saying how large it was,
// and the partition moves on. Two sizes: over 1,000,000 bytes of key, value
// and headers, and just under it but over kgo's 1,000,012-byte batch limit
// once its record and batch overhead count.
func TestDLQRecordTooLargeGoesWithoutValue(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dlqBytes int // the DLQ record's key, value and header bytes, within a few
		min, max int // the range the case is about
	}{
		{"over_1MB", 1_000_060, 1_000_001, 1_001_000},
		{"within_batch_overhead", 999_970, 999_940, 1_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			modes(t, func(t *testing.T, alo bool) {
				mode := func(c *enrich.Config) { c.AtLeastOnce = alo }
				h := newHarness(t, 1, 1, sandbox.Options{})
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				defer cancel()
				// lead.deleted is dead-lettered as unknown_event: its DLQ
				// headers add about this many bytes to the raw record.
				const dlqHeaders = 330
				ev := leadProEvent("lead.deleted", 0)
				ev = leadProEvent("lead.deleted", tc.dlqBytes-dlqHeaders-len(h.raw)-userSize(ev.Record()))
				h.produceRaw(ctx, ev)
				id := h.api.PutLead("tenant-0", newLead(1))
				h.auroraEvent(ctx, "tenant-0", "lead_changed", id)
				h.start("t1", mode)
				h.waitCommitted(t, 2, 30*time.Second)

				if n := len(h.readAll(ctx, h.leads, 1, 300*time.Millisecond)); n != 1 {
					t.Fatalf("%d lead records, want 1", n)
				}
				dlq := h.readAll(ctx, h.dlq, 1, 300*time.Millisecond)
				if len(dlq) != 1 {
					t.Fatalf("%d DLQ records, want 1", len(dlq))
				}
				d, raw := dlq[0], ev.Record()
				if d.Value != nil || schema.Header(d, schema.HeaderDLQTruncated) != strconv.Itoa(len(raw.Value)) {
					t.Fatalf("DLQ record with a %d-byte value and %s=%q; want none and the raw value's size %d",
						len(d.Value), schema.HeaderDLQTruncated, schema.Header(d, schema.HeaderDLQTruncated), len(raw.Value))
				}
				if got := schema.Header(d, schema.HeaderDLQReason); got != "unknown_event" {
					t.Errorf("DLQ reason %q, want unknown_event", got)
				}
				// What the record would have held with its value: the case
				// tests the size it is about.
				full := userSize(d) + len(raw.Value) - len(schema.HeaderDLQTruncated) - len(schema.Header(d, schema.HeaderDLQTruncated))
				t.Logf("the DLQ record would have held %d bytes", full)
				if full < tc.min || full > tc.max {
					t.Fatalf("the DLQ record would have held %d bytes, outside this case's %d..%d", full, tc.min, tc.max)
				}
			})
		})
	}
}

// userSize is a record's key, value and header bytes.
func userSize(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// A DLQ that refuses a record for good (its max.message.bytes) first gets
// it without its value; one that refuses even that makes the member give
// the record up (logged, counted) after a bounded number of attempts, so
// the partition moves on and the next lead gets its record.
func TestRefusedDLQRecord(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit string // the DLQ topic's max.message.bytes
		dlq   int    // DLQ records expected: the one without its value, or none
	}{
		{"written_without_value", "4000", 1},
		{"given_up", "100", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			modes(t, func(t *testing.T, alo bool) {
				mode := func(c *enrich.Config) { c.AtLeastOnce = alo }
				h := newHarness(t, 1, 1, sandbox.Options{})
				h.dlq = kafkatest.Topic(t, h.b, "dlq-small", 1, map[string]*string{"max.message.bytes": &tc.limit})
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				defer cancel()
				ev := leadProEvent("lead.deleted", 0)
				ev.Data = json.RawMessage(`{"event":"lead.deleted","data":{"id":77,"notes":"` + randomNotes(10_000) + `"}}`)
				h.produceRaw(ctx, ev)
				id := h.api.PutLead("tenant-0", newLead(1))
				h.auroraEvent(ctx, "tenant-0", "lead_changed", id)
				reg := prometheus.NewRegistry()
				h.start("d1", mode, func(c *enrich.Config) { c.Metrics = reg })
				h.waitCommitted(t, 2, 30*time.Second)

				if n := len(h.readAll(ctx, h.leads, 1, 300*time.Millisecond)); n != 1 {
					t.Fatalf("%d lead records, want 1", n)
				}
				wctx, wcancel := context.WithTimeout(ctx, 3*time.Second)
				defer wcancel()
				dlq := h.readAll(wctx, h.dlq, tc.dlq, 300*time.Millisecond)
				if len(dlq) != tc.dlq {
					t.Fatalf("%d DLQ records, want %d", len(dlq), tc.dlq)
				}
				for _, d := range dlq {
					if d.Value != nil || schema.Header(d, schema.HeaderDLQTruncated) != strconv.Itoa(len(ev.Record().Value)) {
						t.Errorf("the DLQ record kept its value or does not say its size")
					}
					if got := schema.Header(d, schema.HeaderDLQReason); got != "unknown_event" {
						t.Errorf("DLQ reason %q, want the first attempt's unknown_event", got)
					}
				}
				if got, want := gauge(t, reg, "leadbridge_enrich_dropped_total"), float64(1-tc.dlq); got != want {
					t.Errorf("dropped_total = %v, want %v", got, want)
				}
				if n := gauge(t, reg, "leadbridge_enrich_transactions_aborted_total"); n > 5 {
					t.Errorf("%v transactions aborted for one refused record", n)
				}
			})
		})
	}
}

// Exactly-once, a failing lead whose raw record is too large to wait on the
// retry topic with the retry headers goes to the DLQ (unproducible, without
// its value: the DLQ headers do not fit either) instead of holding its batch
// for good, and the lead behind it gets its record.
func TestTooLargeForRetryGoesToDLQ(t *testing.T) {
	h := newHarness(t, 1, 1, sandbox.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	failing := h.api.PutLead("tenant-0", newLead(1))
	h.api.FailNext(failing, sandbox.Repeat(sandbox.Fault{Status: 503}, 10_000)...)
	mk := func(pad int) schema.Event {
		data, _ := json.Marshal(schema.AuroraData{Event: "lead_changed", TenantID: "tenant-0",
			Attributes: map[string]string{"lead_id": failing, "notes": strings.Repeat("x", pad)}})
		return schema.Event{ID: uuid.Must(uuid.NewV7()).String(), Source: schema.AuroraSource("tenant-0"),
			Type: schema.AuroraTypePrefix + "lead_changed", Subject: failing, Time: time.Now().UTC(),
			PartitionKey: schema.AuroraKey("tenant-0", failing), Data: data}
	}
	// Raw fits a record batch; with the retry headers it does not.
	const rawBytes = 999_750
	ev := mk(0)
	ev = mk(rawBytes - userSize(ev.Record()))
	h.produceRaw(ctx, ev)
	ok := h.api.PutLead("tenant-0", newLead(2))
	h.auroraEvent(ctx, "tenant-0", "lead_changed", ok)
	h.start("x1")
	h.waitCommitted(t, 2, 30*time.Second)

	leads := h.leadsOf(h.readAll(ctx, h.leads, 1, 300*time.Millisecond))
	if len(leads) != 1 || leads[0].key != schema.AuroraKey("tenant-0", ok) {
		t.Fatalf("%d lead records, want the healthy lead's only", len(leads))
	}
	dlq := h.readAll(ctx, h.dlq, 1, 300*time.Millisecond)
	if len(dlq) != 1 {
		t.Fatalf("%d DLQ records, want 1", len(dlq))
	}
	d := dlq[0]
	if got := schema.Header(d, schema.HeaderDLQReason); got != "unproducible" {
		t.Errorf("DLQ reason %q, want unproducible", got)
	}
	if d.Value != nil || schema.Header(d, schema.HeaderDLQTruncated) != strconv.Itoa(len(ev.Record().Value)) {
		t.Errorf("DLQ record with a %d-byte value, %s=%q", len(d.Value), schema.HeaderDLQTruncated, schema.Header(d, schema.HeaderDLQTruncated))
	}
	if n := len(h.readAll(ctx, h.retry, 0, 300*time.Millisecond)); n != 0 {
		t.Errorf("%d records on the retry topic, want none", n)
	}
}

// When the leads topic's limit drops while the member runs (kgo batches up
// to its own bound, whatever the topic's), the broker refuses the oversized
// lead's batch whole. Only the oversized lead reaches the DLQ; the ten
// healthy leads get their records. Exactly-once the transaction of eleven
// leads is aborted, only the oversized lead is blamed, and the others are
// produced when it is read again (kgo fails what it buffers after a refused
// batch with the same error; the member isolates such suspects, which
// TestRefusalsStrikesAndSuspects covers: the broker decides whether they
// share the batch). At-least-once the healthy leads refused with it are
// produced once more, one at a time.
func TestRefusalBlamesOnlyTheCulprit(t *testing.T) {
	modes(t, func(t *testing.T, alo bool) {
		h := newHarness(t, 1, 1, sandbox.Options{})
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		reg := prometheus.NewRegistry()
		h.start("b1", func(c *enrich.Config) { c.Metrics, c.AtLeastOnce = reg, alo })
		limit := "20000"
		adm := kadm.NewClient(h.producer)
		if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: &limit}}, h.leads); err != nil {
			t.Fatal(err)
		}
		probe := kafkatest.Client(t, h.b)
		waitFor(t, 30*time.Second, "the broker to apply the lower limit", func() bool {
			// Refused (never written) once the limit holds.
			err := probe.ProduceSync(ctx, &kgo.Record{Topic: h.leads, Key: []byte("probe"), Value: []byte(randomNotes(30_000))}).FirstErr()
			return errors.Is(err, kerr.MessageTooLarge)
		})

		big := leadProEvent("lead.created", 0)
		big.Data = json.RawMessage(`{"event":"lead.created","data":{"id":77,"full_name":"Ada Lovelace","notes":"` + randomNotes(60_000) + `"}}`)
		// In one raw batch, so one transaction.
		recs := []*kgo.Record{big.Record()}
		const healthy = 10
		for i := range healthy {
			id := strconv.Itoa(100 + i)
			small := leadProEvent("lead.created", 0)
			small.PartitionKey, small.Subject = schema.LeadProKey("9999", id), id
			small.Data = json.RawMessage(`{"event":"lead.created","data":{"id":` + id + `,"full_name":"Grace Hopper"}}`)
			recs = append(recs, small.Record())
		}
		for _, r := range recs {
			r.Topic = h.raw
		}
		if err := h.producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		h.waitCommitted(t, 1+healthy, 30*time.Second)

		keys := map[string]bool{}
		for _, l := range h.leadsOf(h.readAll(ctx, h.leads, healthy, 300*time.Millisecond)) {
			keys[l.key] = true
		}
		if len(keys) != healthy || keys[schema.LeadProKey("9999", "77")] {
			t.Fatalf("lead records for %d keys (the oversized one's: %v), want the %d healthy leads'", len(keys), keys[schema.LeadProKey("9999", "77")], healthy)
		}
		dlq := h.readAll(ctx, h.dlq, 1, 300*time.Millisecond)
		if len(dlq) != 1 || schema.Header(dlq[0], schema.HeaderDLQReason) != "unproducible" || !bytes.Equal(dlq[0].Value, big.Record().Value) {
			t.Fatalf("%d DLQ records, want the oversized lead's raw record as unproducible", len(dlq))
		}
		if n := gauge(t, reg, "leadbridge_enrich_refused_total"); !alo && n < 1 {
			t.Errorf("refused_total = %v, want at least 1", n)
		}
	})
}

// An erasure's tombstone the broker refuses for good (here a long, incompressible key over
// the leads topic's max.message.bytes, which stays above a transaction
// marker's batch so that the transaction can still end) sends the
// erasure event to the DLQ as unproducible, in both modes, so its raw
// offset moves on: at-least-once the event was left undone, holding its
// partition's offsets back for good.
func TestRefusedTombstoneGoesToDLQ(t *testing.T) {
	modes(t, func(t *testing.T, alo bool) {
		h := newHarness(t, 1, 1, sandbox.Options{})
		compact, limit := "compact", "300"
		h.leads = kafkatest.Topic(t, h.b, "leads-tiny", 1, map[string]*string{"cleanup.policy": &compact, "max.message.bytes": &limit})
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		h.produceRaw(ctx, schema.ErasureEvent(uuid.Must(uuid.NewV7()).String(), schema.LeadProKey("9999", randomNotes(400)), true, time.Now()))
		h.start("t1", func(c *enrich.Config) { c.AtLeastOnce = alo })
		h.waitCommitted(t, 1, 30*time.Second)
		dlq := h.readAll(ctx, h.dlq, 1, 300*time.Millisecond)
		if len(dlq) != 1 {
			t.Fatalf("%d DLQ records, want the erasure event", len(dlq))
		}
		if got := schema.Header(dlq[0], schema.HeaderDLQReason); got != "unproducible" {
			t.Errorf("DLQ reason %q, want unproducible", got)
		}
	})
}
