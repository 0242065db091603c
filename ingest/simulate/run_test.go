package simulate

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/schema"
)

func TestLoadCheck(t *testing.T) {
	ok := Load{URL: "http://127.0.0.1:8080", N: 1, Concurrency: 1, Timeout: time.Second}
	tests := map[string]struct {
		change func(*Load)
		want   []string // each problem named; none: valid
	}{
		"valid":        {func(*Load) {}, nil},
		"https":        {func(l *Load) { l.URL = "https://bridge.example.com/base/" }, nil},
		"not http":     {func(l *Load) { l.URL = "ftp://x" }, []string{`--url "ftp://x" is not an http(s) URL`}},
		"no host":      {func(l *Load) { l.URL = "http://" }, []string{"--url"}},
		"every number": {func(l *Load) { l.N, l.Concurrency, l.Timeout = 0, 0, 0 }, []string{"-n must", "--concurrency must", "--timeout must"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l := ok
			tc.change(&l)
			err := l.Check()
			if (err == nil) != (len(tc.want) == 0) {
				t.Fatalf("Check() = %v, want problems %q", err, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check() = %v, lacks %q", err, w)
				}
			}
		})
	}
}

// Run sends N deliveries below the URL's path and fails when one is not
// answered 200.
func TestRunLoad(t *testing.T) {
	var got, fail atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		if !strings.HasPrefix(r.URL.Path, "/base/webhooks/aurora/t1/lead_created") {
			http.Error(w, "wrong path "+r.URL.Path, http.StatusNotFound)
			return
		}
		if fail.Load() > 0 && fail.Add(-1) >= 0 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
	}))
	t.Cleanup(srv.Close)
	sim := &Simulator{Provider: schema.ProviderAurora, Tenant: "t1", Header: "X-Aurora-Webhook-Token", Token: "tok"}
	if err := sim.Check(); err != nil {
		t.Fatal(err)
	}
	sim.Prepare()
	l := Load{URL: srv.URL + "/base/", N: 20, Concurrency: 4, Timeout: 5 * time.Second}
	var out bytes.Buffer
	if err := sim.Run(t.Context(), l, &out); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if got.Load() != 20 || !strings.Contains(out.String(), "20 aurora lead_created deliveries to "+srv.URL+"/base in") {
		t.Fatalf("%d requests; printed:\n%s", got.Load(), out.String())
	}
	fail.Store(3)
	out.Reset()
	if err := sim.Run(t.Context(), l, &out); err == nil || err.Error() != "3 of 20 deliveries were not answered 200" {
		t.Fatalf("Run with 3 refused: %v\n%s", err, out.String())
	}
}

// The documented values are of attributes their event has, and every
// attribute of an event that is not an id has one.
func TestDocumentedValuesFitTheEvents(t *testing.T) {
	for name, vals := range documented {
		ev, ok := schema.AuroraEventNamed(name)
		if !ok {
			t.Errorf("%s is not an Aurora event", name)
		}
		for a, v := range vals {
			if !ev.HasAttribute(a) || v == "" {
				t.Errorf("%s: %s=%q is not an attribute of the event, or empty", name, a, v)
			}
		}
	}
	for _, name := range schema.AuroraEventNames() {
		ev, _ := schema.AuroraEventNamed(name)
		for a := range ev.Attributes() {
			if _, ok := documented[name][a]; !ok && !slices.Contains(ev.Required(), a) {
				t.Errorf("%s: %s has no documented value", name, a)
			}
		}
	}
}
