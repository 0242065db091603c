package sandbox_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
)

func TestAuth(t *testing.T) {
	tests := map[string]struct {
		anyToken   bool
		tenant     string
		header     string
		wantStatus int
	}{
		"right token":                    {tenant: tenant, header: "Bearer " + token, wantStatus: 404},
		"scheme is case-insensitive":     {tenant: tenant, header: "bearer " + token, wantStatus: 404},
		"no header":                      {tenant: tenant, wantStatus: 401},
		"wrong token":                    {tenant: tenant, header: "Bearer nope", wantStatus: 401},
		"other tenant's token":           {tenant: tenant, header: "Bearer " + token2, wantStatus: 401},
		"basic scheme":                   {tenant: tenant, header: "Basic " + token, wantStatus: 401},
		"empty bearer":                   {tenant: tenant, header: "Bearer ", wantStatus: 401},
		"unknown tenant":                 {tenant: "t9", header: "Bearer " + token, wantStatus: 401},
		"dev mode: unknown tenant any":   {anyToken: true, tenant: "t9", header: "Bearer whatever", wantStatus: 404},
		"dev mode: unknown tenant empty": {anyToken: true, tenant: "t9", header: "Bearer ", wantStatus: 401},
		"dev mode: known tenant wrong":   {anyToken: true, tenant: tenant, header: "Bearer whatever", wantStatus: 401},
		"dev mode: known tenant right":   {anyToken: true, tenant: tenant, header: "Bearer " + token, wantStatus: 404},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, base, _ := start(t, sandbox.Options{AcceptAnyToken: tc.anyToken})
			req, _ := http.NewRequest(http.MethodGet, leadURL(base, tc.tenant, "x"), nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
		})
	}

	t.Run("SetToken at runtime", func(t *testing.T) {
		s, base, _ := start(t, sandbox.Options{})
		s.SetToken(tenant, "rotated")
		if r := call(t, http.MethodGet, leadURL(base, tenant, "x"), token, nil); r.status != 401 {
			t.Errorf("old token: %d", r.status)
		}
		if r := call(t, http.MethodGet, leadURL(base, tenant, "x"), "rotated", nil); r.status != 404 {
			t.Errorf("new token: %d", r.status)
		}
		s.SetToken(tenant, "")
		if r := call(t, http.MethodGet, leadURL(base, tenant, "x"), "rotated", nil); r.status != 401 {
			t.Errorf("removed token: %d", r.status)
		}
	})
}

func TestFaultSequence(t *testing.T) {
	clk := newClock()
	s, base, _ := start(t, sandbox.Options{Now: clk.Now, Faults: map[string][]sandbox.Fault{"": {{Status: 502}}}})
	id := s.PutLead(tenant, tutorialLead())
	other := s.PutLead(tenant, tutorialLead())
	s.FailNext(id, sandbox.Repeat(sandbox.Fault{Status: 404}, 2)...)
	s.FailNext(id,
		sandbox.Fault{Status: 429, RetryAfter: 7 * time.Second},
		sandbox.Fault{Status: 429},
		sandbox.Fault{Status: 200},
		sandbox.Fault{Status: 503, RetryAfter: 90 * time.Second, RetryAfterDate: true},
		sandbox.Fault{Status: 500},
	)

	// The global fault goes to the first call of a lead without a queue.
	if r := call(t, http.MethodGet, leadURL(base, tenant, other), token, nil); r.status != 502 {
		t.Errorf("global fault: %d", r.status)
	}
	if r := call(t, http.MethodGet, leadURL(base, tenant, other), token, nil); r.status != 200 {
		t.Errorf("after global fault: %d", r.status)
	}
	// A refused call consumes no fault.
	if r := call(t, http.MethodGet, leadURL(base, tenant, id), "wrong", nil); r.status != 401 {
		t.Fatalf("wrong token: %d", r.status)
	}
	want := []struct {
		status     int
		retryAfter string
	}{
		{404, ""}, {404, ""}, {429, "7"}, {429, "1"}, {200, ""},
		{503, clk.Now().Add(90 * time.Second).Format(http.TimeFormat)}, {500, ""},
		{200, ""}, // queue empty: the real answer
	}
	for i, w := range want {
		r := call(t, http.MethodGet, leadURL(base, tenant, id), token, nil)
		if r.status != w.status || r.header.Get("Retry-After") != w.retryAfter {
			t.Errorf("call %d: %d Retry-After %q, want %d %q", i+1, r.status, r.header.Get("Retry-After"), w.status, w.retryAfter)
		}
		if r.status != 200 && string(r.body) != `{"error":"`+http.StatusText(r.status)+`"}`+"\n" {
			t.Errorf("call %d: body %s", i+1, r.body)
		}
	}
	// Faults do not touch other routes.
	s.FailNext(id, sandbox.Fault{Status: 500})
	if r := call(t, http.MethodPut, leadURL(base, tenant, id), token, map[string]any{}); r.status != 200 {
		t.Errorf("update with a fault queued: %d", r.status)
	}
	s.ClearFaults()
	if r := call(t, http.MethodGet, leadURL(base, tenant, id), token, nil); r.status != 200 {
		t.Errorf("after ClearFaults: %d", r.status)
	}
}

func TestRateLimit(t *testing.T) {
	clk := newClock()
	s, base, _ := start(t, sandbox.Options{Now: clk.Now, RateLimit: 3})
	id := s.PutLead(tenant, tutorialLead())
	get := func(tok, tenantID string) response {
		return call(t, http.MethodGet, leadURL(base, tenantID, id), tok, nil)
	}
	for i := range 3 {
		if r := get(token, tenant); r.status != 200 {
			t.Fatalf("call %d: %d", i+1, r.status)
		}
		clk.Add(10 * time.Second)
	}
	// t=30s: three calls in the last minute.
	r := get(token, tenant)
	if r.status != 429 || r.header.Get("Retry-After") != "30" {
		t.Fatalf("4th call: %d Retry-After %q, want 429 30", r.status, r.header.Get("Retry-After"))
	}
	// Other tokens have their own window.
	if r := get(token2, tenant2); r.status != 404 {
		t.Errorf("other token: %d", r.status)
	}
	// Refused calls do not extend the window: at t=60s the first call slides out.
	clk.Add(29 * time.Second)
	if r := get(token, tenant); r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Errorf("t=59s: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	clk.Add(time.Second)
	if r := get(token, tenant); r.status != 200 {
		t.Errorf("t=60s: %d", r.status)
	}
	// A rate-limited call consumes no fault.
	s.FailNext(id, sandbox.Fault{Status: 500})
	if r := get(token, tenant); r.status != 429 {
		t.Errorf("t=60s again: %d", r.status)
	}
	s.SetRateLimit(0, 0)
	if r := get(token, tenant); r.status != 500 {
		t.Errorf("limit off, fault queued: %d", r.status)
	}
	st := s.Stats()
	if st.ByStatus[429] != 3 || st.ByStatus[200] != 4 || st.ByStatus[404] != 1 || st.ByStatus[500] != 1 {
		t.Errorf("ByStatus %v", st.ByStatus)
	}
}

func TestMaxCallsInWindow(t *testing.T) {
	clk := newClock()
	s, base, _ := start(t, sandbox.Options{Now: clk.Now})
	// Arrivals at 0, 10, 20, 61, 62, 63, 64 s; one of them refused (401
	// for the wrong tenant) still counts: the client made it.
	for i, at := range []time.Duration{0, 10, 10, 41, 1, 1, 1} {
		clk.Add(at * time.Second)
		target := tenant
		if i == 3 {
			target = tenant2
		}
		call(t, http.MethodGet, leadURL(base, target, "x"), token, nil)
	}
	tests := map[string]struct {
		window time.Duration
		want   int
	}{
		"minute":      {time.Minute, 6}, // [10s, 70s)
		"five s":      {5 * time.Second, 4},
		"one s":       {time.Second, 1},
		"an hour":     {time.Hour, 7},
		"zero window": {0, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := s.MaxCallsInWindow(token, tc.window); got != tc.want {
				t.Errorf("MaxCallsInWindow(%v) = %d, want %d", tc.window, got, tc.want)
			}
		})
	}
	if got := s.MaxCallsInWindow("unused", time.Minute); got != 0 {
		t.Errorf("unused token: %d", got)
	}
	if n := len(s.Calls(token)); n != 7 {
		t.Errorf("Calls: %d", n)
	}
	s.ResetStats()
	if got := s.MaxCallsInWindow(token, time.Hour); got != 0 {
		t.Errorf("after ResetStats: %d", got)
	}
}

func TestStats(t *testing.T) {
	s, base, _ := start(t, sandbox.Options{})
	a := s.PutLead(tenant, tutorialLead())
	b := s.PutLead(tenant2, tutorialLead())
	s.FailNext(a, sandbox.Fault{Status: 503})
	call(t, http.MethodGet, leadURL(base, tenant, a), token, nil)
	call(t, http.MethodGet, leadURL(base, tenant, a), token, nil)
	call(t, http.MethodGet, leadURL(base, tenant2, b), token2, nil)
	call(t, http.MethodGet, leadURL(base, tenant2, b), "wrong", nil)
	call(t, http.MethodPost, base+"/tenants/"+tenant+"/leads", token, map[string]any{})
	call(t, http.MethodGet, base+"/healthz", "", nil)

	st := s.Stats()
	if st.Total != 5 {
		t.Errorf("Total %d", st.Total)
	}
	if st.ByTenant[tenant] != 3 || st.ByTenant[tenant2] != 2 {
		t.Errorf("ByTenant %v", st.ByTenant)
	}
	if st.ByLead[a] != 2 || st.ByLead[b] != 2 || len(st.ByLead) != 2 {
		t.Errorf("ByLead %v", st.ByLead)
	}
	if st.ByStatus[200] != 3 || st.ByStatus[503] != 1 || st.ByStatus[401] != 1 {
		t.Errorf("ByStatus %v", st.ByStatus)
	}
	if st.ByRoute[sandbox.RouteRetrieveLead] != 4 || st.ByRoute["POST /tenants/{tenant_id}/leads"] != 1 {
		t.Errorf("ByRoute %v", st.ByRoute)
	}
	st.ByLead[a] = 100 // a copy
	if s.Stats().ByLead[a] != 2 {
		t.Error("Stats returned shared maps")
	}
	s.ResetStats()
	if st := s.Stats(); st.Total != 0 || len(st.ByStatus) != 0 {
		t.Errorf("after ResetStats: %+v", st)
	}
}

func TestLatency(t *testing.T) {
	s, base, _ := start(t, sandbox.Options{Latency: 40 * time.Millisecond, Jitter: 10 * time.Millisecond})
	begin := time.Now()
	call(t, http.MethodGet, leadURL(base, tenant, "x"), token, nil)
	if d := time.Since(begin); d < 40*time.Millisecond {
		t.Errorf("answered after %v, before the latency", d)
	}

	// A caller that gives up during the latency is counted as 499.
	s.SetLatency(time.Second, 0)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, leadURL(base, tenant, "x"), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("request outlived its deadline")
	}
	deadline := time.Now().Add(2 * time.Second)
	for s.Stats().ByStatus[499] != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := s.Stats().ByStatus; got[499] != 1 {
		t.Errorf("ByStatus %v", got)
	}
	s.SetLatency(0, 0)
	if r := call(t, http.MethodGet, leadURL(base, tenant, "x"), token, nil); r.status != 404 {
		t.Errorf("latency off: %d", r.status)
	}
}
