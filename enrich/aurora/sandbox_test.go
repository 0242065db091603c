package aurora_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/enrich/aurora"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"go.uber.org/zap/zaptest"
)

// TestClientAgainstSandbox checks that the client and the sandbox agree on
// the wire: path, auth, the body's shape and each error class.
func TestClientAgainstSandbox(t *testing.T) {
	const tenant, token = "3fa85f64-5717-4562-b3fc-2c963f66afa6", "sandbox-token"
	sb := sandbox.New(sandbox.Options{Tokens: map[string]string{tenant: token}, RateLimit: 5})
	t.Cleanup(sb.Close)
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	c := aurora.NewClient(srv.URL, nil, zaptest.NewLogger(t))

	id := sb.PutLead(tenant, map[string]any{"address": "434 Brannan St", "latitude": 37.77960043})
	body, err := c.RetrieveLead(t.Context(), tenant, token, id)
	if err != nil {
		t.Fatal(err)
	}
	var lead map[string]any
	if err := json.Unmarshal(body, &lead); err != nil || lead["id"] != id || lead["address"] != "434 Brannan St" {
		t.Fatalf("lead %s, %v", body, err)
	}

	sb.FailNext(id, sandbox.Fault{Status: 404}, sandbox.Fault{Status: 429, RetryAfter: 3 * time.Second}, sandbox.Fault{Status: 503})
	checks := []struct {
		name string
		ok   func(error) bool
	}{
		{"404 not found", aurora.IsNotFound},
		{"429 retry after 3s", func(err error) bool {
			d, ok := aurora.RetryAfter(err)
			return aurora.IsRetryable(err) && ok && d == 3*time.Second
		}},
		{"503 retryable", aurora.IsRetryable},
	}
	for _, ch := range checks {
		if _, err := c.RetrieveLead(t.Context(), tenant, token, id); !ch.ok(err) {
			t.Errorf("%s: err = %v", ch.name, err)
		}
	}
	if _, err := c.RetrieveLead(t.Context(), tenant, "wrong", id); !aurora.IsAuth(err) {
		t.Errorf("wrong token: err = %v", err)
	}
	// Four calls made with token so far (the fault answers count: they
	// passed the limiter); the fifth is let through, the sixth refused.
	if _, err := c.RetrieveLead(t.Context(), tenant, token, id); err != nil {
		t.Fatalf("fifth call: %v", err)
	}
	_, err = c.RetrieveLead(t.Context(), tenant, token, id)
	if d, ok := aurora.RetryAfter(err); !aurora.IsRetryable(err) || !ok || d <= 0 || d > time.Minute {
		t.Errorf("rate limited: err = %v", err)
	}
	if got := sb.MaxCallsInWindow(token, time.Minute); got != 6 {
		t.Errorf("MaxCallsInWindow = %d, want 6", got)
	}
}
