package bench

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// callTime reads the members' own call-time histograms: their sum over their
// count across members and status labels.
func TestCallTimeReadsTheMembersHistograms(t *testing.T) {
	member := func(obs map[string][]float64) string {
		reg := prometheus.NewRegistry()
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "leadbridge_enrich_api_duration_seconds"}, []string{"status"})
		reg.MustRegister(h)
		for status, secs := range obs {
			for _, s := range secs {
				h.WithLabelValues(status).Observe(s)
			}
		}
		srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	a := member(map[string][]float64{"2xx": {0.100, 0.110}, "5xx": {0.090}})
	b := member(map[string][]float64{"2xx": {0.120}})
	got, err := callTime(context.Background(), []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if want := 105 * time.Millisecond; got < want-time.Microsecond || got > want+time.Microsecond {
		t.Fatalf("mean call time %v, want %v", got, want)
	}
	none := member(nil)
	if got, err := callTime(context.Background(), []string{none}); err != nil || got != 0 {
		t.Fatalf("no calls: %v, %v; want 0", got, err)
	}
}
