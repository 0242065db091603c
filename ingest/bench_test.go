package ingest

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/leadbridge/leadbridge/schema"
)

// recordPublisher encodes each event as KafkaPublisher does (ev.Record) and
// drops it: the benchmarks measure ingest's own work per delivery, not the
// broker's.
type recordPublisher struct{}

func (recordPublisher) Publish(_ context.Context, ev schema.Event) error {
	_ = ev.Record()
	return nil
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// counts the server's allocations, not a recorder's.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

func benchDeliveries(b *testing.B, reqs []*http.Request) {
	s, _ := newTestServer(b, recordPublisher{}, func(c *Config) { c.Now = nil })
	h := s.Handler()
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		clear(w.h)
		h.ServeHTTP(w, reqs[i%len(reqs)])
	}
}

// BenchmarkAuroraLeadChanged: one authenticated Aurora lead_changed with the
// suggested template, a new lead_id per request (from a ring of 1024), as
// issue 12's load sends it.
func BenchmarkAuroraLeadChanged(b *testing.B) {
	reqs := make([]*http.Request, 1024)
	for i := range reqs {
		reqs[i] = auroraGet(tenantHeader, fmt.Sprintf("/lead_changed?lead_id=f0d1c2b3-0000-4000-8000-%012d", i)).request()
	}
	benchDeliveries(b, reqs)
}

// BenchmarkLeadProLeadCreated: one signed LeadPro lead.created.
func BenchmarkLeadProLeadCreated(b *testing.B) {
	reqs := make([]*http.Request, 64)
	for i := range reqs {
		d := leadproPost(b, account, signHS256(b, leadproCreated, signingKey), "")
		reqs[i] = d.request()
	}
	benchDeliveries(b, reqs)
}
