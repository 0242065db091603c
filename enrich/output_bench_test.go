package enrich

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/schema"
)

func benchLead(tb testing.TB) schema.Lead {
	tb.Helper()
	ev := schema.Event{ID: "ev-1", Source: schema.AuroraSource("t1"), Type: "lead_changed",
		Time: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), Data: []byte(`{"event":"lead_changed"}`)}
	body := leadBody("L1", "2026-01-02T00:00:00Z", "address", "1 Main St & 2nd <rear>, San Francisco, CA 94107",
		"status", "open", "notes", "<b>fish & chips</b>")
	l, err := schema.LeadFromAurora(ev, "t1", schema.AuroraWebhook{Source: "lcai"}, body)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// BenchmarkLeadEncode is what produceLead encodes per lead record: the
// value and the content hash.
func BenchmarkLeadEncode(b *testing.B) {
	l := benchLead(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := marshalLead(l); err != nil {
			b.Fatal(err)
		}
		_ = contentHash(l)
	}
}

// The pooled encoder writes what a fresh one writes, byte for byte, and
// the hash is of those bytes without source_event, however often reused.
func TestLeadEncodeUnchanged(t *testing.T) {
	l := benchLead(t)
	fresh := func(l schema.Lead) []byte {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(l); err != nil {
			t.Fatal(err)
		}
		return bytes.TrimRight(b.Bytes(), "\n")
	}
	for i := range 3 {
		got, err := marshalLead(l)
		if err != nil {
			t.Fatal(err)
		}
		if want := fresh(l); !bytes.Equal(got, want) {
			t.Fatalf("round %d: marshalLead\n%s\nwant\n%s", i, got, want)
		}
		noSrc := l
		noSrc.SourceEvent = schema.SourceEvent{}
		sum := sha256.Sum256(fresh(noSrc))
		if contentHash(l) != [16]byte(sum[:16]) {
			t.Fatalf("round %d: contentHash differs from the hash of the record without source_event", i)
		}
		l.Status = l.Status + "x" // a different record for the next round
	}
}

func TestAuroraWebhookOfItems(t *testing.T) {
	// As dispatch reads them: the event's data decoded once, its facts kept.
	ev := func(data string) *item {
		var d schema.AuroraData
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			t.Fatal(err)
		}
		return &item{ev: schema.Event{Data: []byte(data)}, hook: schema.AuroraWebhook{}.With(d)}
	}
	created := ev(`{"event":"lead_created","attributes":{"source":"api"}}`)
	converted := ev(`{"event":"lead_converted","attributes":{"project_id":"P1"}}`)
	changed := ev(`{"event":"lead_changed","attributes":{"lead_id":"L1"}}`)
	// Equal to schema.AuroraWebhookOf of the same events, in every order.
	all := []*item{created, converted, changed}
	for i := range all {
		for j := range all {
			items := []*item{all[i], all[j]}
			if got, want := auroraWebhookOf(items), schema.AuroraWebhookOf(all[i].ev, all[j].ev); got != want {
				t.Errorf("items %d, %d: %+v, want %+v", i, j, got, want)
			}
		}
	}
	if got := auroraWebhookOf([]*item{created}); got != (schema.AuroraWebhook{Source: "api"}) {
		t.Errorf("one item: %+v", got)
	}
	if got := auroraWebhookOf([]*item{created, converted}); got != (schema.AuroraWebhook{Source: "api", ProjectID: "P1"}) {
		t.Errorf("two items: %+v", got)
	}
}
