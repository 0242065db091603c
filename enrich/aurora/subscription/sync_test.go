package subscription_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/enrich/aurora/subscription"
	"github.com/leadbridge/leadbridge/schema"
)

const (
	tenantA = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	apiA    = "api-token-a"
	hookA   = "webhook-token-a-1"
	tenantB = "9b2c0000-0000-4000-8000-000000000002"
	apiB    = "api-token-b"
	passB   = "basic-password-b"
)

// receiver stands in for ingest: it records every webhook request's path,
// query and credentials.
type receiver struct {
	mu   sync.Mutex
	reqs []*http.Request
	srv  *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Clone(context.Background()))
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.reqs...)
}

type env struct {
	sb      *sandbox.Server
	client  *subscription.Client
	tenants []subscription.Tenant
	recv    *receiver
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sb := sandbox.New(sandbox.Options{Tokens: map[string]string{tenantA: apiA, tenantB: apiB}, Logger: zaptest.NewLogger(t)})
	t.Cleanup(sb.Close)
	api := httptest.NewServer(sb.Handler())
	t.Cleanup(api.Close)
	c, err := subscription.NewClient(api.URL, 60000, nil, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return &env{sb: sb, client: c, recv: newReceiver(t), tenants: []subscription.Tenant{
		{ID: tenantA, APIToken: apiA, HeaderKey: "X-Aurora-Webhook-Token", HeaderValue: hookA},
		{ID: tenantB, APIToken: apiB, BasicUsername: "bridge", BasicPassword: passB},
	}}
}

func (e *env) sync(t *testing.T, opts subscription.Options) (subscription.Report, string) {
	t.Helper()
	if opts.PublicURL == "" {
		opts.PublicURL = e.recv.srv.URL
	}
	rep, err := subscription.Sync(t.Context(), e.client, e.tenants, opts)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	var out bytes.Buffer
	rep.WriteText(&out)
	return rep, out.String()
}

func writes(sb *sandbox.Server) int {
	st := sb.Stats()
	return st.ByRoute["POST /tenants/{tenant_id}/webhooks"] +
		st.ByRoute["PUT /tenants/{tenant_id}/webhooks/{webhook_id}"] +
		st.ByRoute["DELETE /tenants/{tenant_id}/webhooks/{webhook_id}"]
}

// fire makes the sandbox send event and waits for the deliveries.
func fire(t *testing.T, sb *sandbox.Server, tenant, event string, attrs map[string]string) int {
	t.Helper()
	n := sb.Fire(t.Context(), tenant, event, attrs)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := sb.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSyncTwiceSecondMakesNoWrites(t *testing.T) {
	e := newEnv(t)
	rep, out := e.sync(t, subscription.Options{})
	if got, want := rep.Count("create"), 2*len(schema.AuroraLeadEvents()); got != want || rep.Writes != want {
		t.Fatalf("first sync: %d creates, %d writes, want %d:\n%s", got, rep.Writes, want, out)
	}
	for _, tenant := range []string{tenantA, tenantB} {
		hooks := e.sb.Webhooks(tenant)
		if len(hooks) != len(schema.AuroraLeadEvents()) {
			t.Fatalf("tenant %s has %d subscriptions, want %d", tenant, len(hooks), len(schema.AuroraLeadEvents()))
		}
		for _, h := range hooks {
			if !h.Enabled || h.URLTemplate != subscription.URLTemplate(e.recv.srv.URL, tenant, h.Event) {
				t.Errorf("tenant %s: %+v", tenant, h)
			}
		}
	}
	before := writes(e.sb)
	rep, out = e.sync(t, subscription.Options{})
	if rep.Writes != 0 || writes(e.sb) != before {
		t.Fatalf("second sync wrote: report %d, sandbox saw %d more writes", rep.Writes, writes(e.sb)-before)
	}
	if !strings.Contains(out, "no changes") || !strings.Contains(out, "0 writes") {
		t.Errorf("second sync does not say so:\n%s", out)
	}

	// The subscriptions really deliver, with every attribute and the credentials.
	if n := fire(t, e.sb, tenantA, "lead_solar_estimation_job_completed", map[string]string{"lead_id": "L1", "job_id": "J1", "status": "succeeded"}); n != 1 {
		t.Fatalf("fired %d deliveries, want 1", n)
	}
	if n := fire(t, e.sb, tenantB, "lead_created", map[string]string{"lead_id": "L2", "source": "api"}); n != 1 {
		t.Fatalf("fired %d deliveries, want 1", n)
	}
	reqs := e.recv.requests()
	if len(reqs) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(reqs))
	}
	a, b := reqs[0], reqs[1]
	if a.URL.Path != "/webhooks/aurora/"+tenantA+"/lead_solar_estimation_job_completed" ||
		a.URL.Query().Encode() != (url.Values{"lead_id": {"L1"}, "job_id": {"J1"}, "status": {"succeeded"}}).Encode() ||
		a.Header.Get("X-Aurora-Webhook-Token") != hookA {
		t.Errorf("tenant A webhook: %s %v", a.URL, a.Header.Get("X-Aurora-Webhook-Token") == hookA)
	}
	if user, pass, ok := b.BasicAuth(); !ok || user != "bridge" || pass != passB || b.URL.Query().Get("source") != "api" {
		t.Errorf("tenant B webhook: %s basic=%v", b.URL, ok)
	}
}

func TestSyncFixesDrift(t *testing.T) {
	e := newEnv(t)
	e.sync(t, subscription.Options{})
	hooks := e.sb.Webhooks(tenantA)
	// Aurora disabled one after failures, someone edited another's URL.
	put := func(id, body string) {
		req, _ := http.NewRequest(http.MethodPut, "", strings.NewReader(body))
		req.URL, _ = url.Parse("/tenants/" + tenantA + "/webhooks/" + id)
		req.Header.Set("Authorization", "Bearer "+apiA)
		rec := httptest.NewRecorder()
		e.sb.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("PUT: %d", rec.Code)
		}
	}
	put(hooks[0].ID, `{"webhook":{"enabled":false}}`)
	put(hooks[1].ID, `{"webhook":{"url_template":"https://old.example.com/hook?lead_id=<LEAD_ID>"}}`)

	var list bytes.Buffer
	lists, err := subscription.List(t.Context(), e.client, e.tenants[:1], subscription.Options{})
	if err != nil {
		t.Fatal(err)
	}
	subscription.WriteList(&list, lists)
	if len(lists[0].Disabled()) != 1 || !strings.Contains(list.String(), "DISABLED") {
		t.Errorf("list does not report the disabled subscription:\n%s", list.String())
	}

	rep, out := e.sync(t, subscription.Options{})
	if rep.Count("update") != 2 || rep.Writes != 2 {
		t.Fatalf("want 2 updates:\n%s", out)
	}
	if !strings.Contains(out, "disabled") || !strings.Contains(out, "url_template") {
		t.Errorf("report does not name the drift:\n%s", out)
	}

	// Token rotation: the tenant's first token is now a new one.
	e.tenants[0].HeaderValue = "webhook-token-a-2"
	rep, out = e.sync(t, subscription.Options{})
	if rep.Count("update") != len(schema.AuroraLeadEvents()) {
		t.Fatalf("rotation: want every subscription of tenant A updated:\n%s", out)
	}
	if strings.Contains(out, "webhook-token-a-2") || strings.Contains(out, hookA) {
		t.Fatalf("a token was printed:\n%s", out)
	}
	fire(t, e.sb, tenantA, "lead_changed", map[string]string{"lead_id": "L9"})
	reqs := e.recv.requests()
	if len(reqs) != 1 || reqs[0].Header.Get("X-Aurora-Webhook-Token") != "webhook-token-a-2" {
		t.Fatalf("after rotation the webhook does not carry the new token (%d requests)", len(reqs))
	}
	if rep, out := e.sync(t, subscription.Options{}); rep.Writes != 0 {
		t.Fatalf("sync after the fix wrote:\n%s", out)
	}
}

func TestSyncPrunesOnlyWhenAsked(t *testing.T) {
	e := newEnv(t)
	e.tenants = e.tenants[:1]
	e.sync(t, subscription.Options{Events: []string{"lead_created", "project_created"}})
	foreign, err := e.sb.AddWebhook(tenantA, sandbox.Webhook{Description: "crm", Event: "lead_created",
		URLTemplate: "https://crm.example.com/x?id=<LEAD_ID>", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	rep, out := e.sync(t, subscription.Options{})
	// 2 from the first sync, 3 more lead events now, and the foreign one.
	if got := len(e.sb.Webhooks(tenantA)); rep.Count("extra") != 1 || rep.Count("delete") != 0 || got != 6 {
		t.Fatalf("without --prune: %d subscriptions, report:\n%s", got, out)
	}
	rep, out = e.sync(t, subscription.Options{Prune: true})
	if rep.Count("delete") != 1 || rep.Writes != 1 {
		t.Fatalf("with --prune:\n%s", out)
	}
	for _, h := range e.sb.Webhooks(tenantA) {
		if h.Event == "project_created" {
			t.Errorf("project_created survived --prune")
		}
	}
	found := false
	for _, h := range e.sb.Webhooks(tenantA) {
		found = found || h.ID == foreign.ID
	}
	if !found {
		t.Errorf("--prune deleted a subscription leadbridge does not manage")
	}
}

func TestDryRunWritesNothingAndRedacts(t *testing.T) {
	e := newEnv(t)
	rep, out := e.sync(t, subscription.Options{DryRun: true})
	if rep.Writes != 0 || writes(e.sb) != 0 || len(e.sb.Webhooks(tenantA)) != 0 {
		t.Fatalf("dry run wrote")
	}
	if !strings.Contains(out, "header_auth_value: <redacted>") || !strings.Contains(out, "basic_auth_password: <redacted>") {
		t.Errorf("dry run does not show the redacted fields:\n%s", out)
	}
	for _, secret := range []string{hookA, passB, apiA, apiB} {
		if strings.Contains(out, secret) {
			t.Errorf("dry run printed a secret")
		}
	}
	if rep.Count("create") != 2*len(schema.AuroraLeadEvents()) || !strings.Contains(out, "would be created") {
		t.Errorf("dry run plan:\n%s", out)
	}
}

func TestSyncAllEvents(t *testing.T) {
	e := newEnv(t)
	e.tenants = e.tenants[:1]
	rep, out := e.sync(t, subscription.Options{Events: []string{"all"}})
	if rep.Count("create") != len(schema.AuroraEventNames()) || len(schema.AuroraEventNames()) != 26 {
		t.Fatalf("--events all: %d creates:\n%s", rep.Count("create"), out)
	}
	for _, name := range schema.AuroraEventNames() {
		ev, _ := schema.AuroraEventNamed(name)
		attrs := slices.Collect(ev.Attributes())
		tmpl := subscription.URLTemplate("https://b.example.com", tenantA, name)
		u, err := url.Parse(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if len(u.Query()) != len(attrs) {
			t.Errorf("%s: template %s does not carry all of %v", name, tmpl, attrs)
		}
	}
	// Aurora names the design request id <DESIGN_REQUEST_ID_IN_AURORA>; the
	// delivery still carries design_request_id.
	fire(t, e.sb, tenantA, "design_request_completed", map[string]string{"design_request_id": "D1", "status": "designer_completed"})
	reqs := e.recv.requests()
	if len(reqs) != 1 || reqs[0].URL.Query().Get("design_request_id") != "D1" {
		t.Fatalf("design_request_completed delivery: %v", reqs)
	}
}

func TestSyncRejectsBadInput(t *testing.T) {
	e := newEnv(t)
	for name, opts := range map[string]subscription.Options{
		"unknown event": {PublicURL: "https://b.example.com", Events: []string{"lead_created", "lead_exploded"}},
		"no url":        {},
		"relative url":  {PublicURL: "b.example.com"},
		"query":         {PublicURL: "https://b.example.com/?x=1"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := subscription.Sync(t.Context(), e.client, e.tenants, opts); err == nil {
				t.Fatal("no error")
			}
			if writes(e.sb) != 0 {
				t.Fatal("wrote")
			}
		})
	}
	// A tenant without a webhook credential is reported; the others proceed.
	tenants := append([]subscription.Tenant{{ID: "t-none", APIToken: "x"}}, e.tenants...)
	rep, err := subscription.Sync(t.Context(), e.client, tenants, subscription.Options{PublicURL: "https://b.example.com"})
	if err == nil || !strings.Contains(err.Error(), "t-none") || rep.Count("create") != 2*len(schema.AuroraLeadEvents()) {
		t.Fatalf("err %v, %d creates", err, rep.Count("create"))
	}

	// A tenant whose API calls fail (a wrong api token) is counted in the
	// summary, which never says "no changes" then: the second run used to
	// print "no changes: 0 subscription(s) up to date" above its 401.
	for _, dry := range []bool{false, true} {
		bad := []subscription.Tenant{e.tenants[0], {ID: tenantB, APIToken: "wrong", BasicUsername: "bridge", BasicPassword: passB}}
		rep, err = subscription.Sync(t.Context(), e.client, bad, subscription.Options{PublicURL: "https://b.example.com", DryRun: dry})
		var out bytes.Buffer
		rep.WriteText(&out)
		if err == nil || rep.Failed != 1 || strings.Contains(out.String(), "no changes") || !strings.Contains(out.String(), "1 tenant(s) failed") {
			t.Errorf("dry run %t: err %v, failed %d, report:\n%s", dry, err, rep.Failed, out.String())
		}
	}
}

// handlerTransport serves requests with a handler in-process, so that the
// whole exchange runs inside a synctest bubble.
type handlerTransport struct{ h http.Handler }

func (ht handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	ht.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func TestRateLimitHoldsTheBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rpm = 10
		sb := sandbox.New(sandbox.Options{Tokens: map[string]string{tenantA: apiA}})
		defer sb.Close()
		c, err := subscription.NewClient("http://aurora.invalid", rpm, &http.Client{Transport: handlerTransport{sb.Handler()}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tenants := []subscription.Tenant{{ID: tenantA, APIToken: apiA, HeaderKey: "X-T", HeaderValue: "v"}}
		start := time.Now()
		rep, err := subscription.Sync(t.Context(), c, tenants, subscription.Options{PublicURL: "https://b.example.com", Events: []string{"all"}})
		if err != nil {
			t.Fatal(err)
		}
		calls := rep.Writes + 1 // the list
		if got := sb.MaxCallsInWindow(apiA, time.Minute); got > rpm {
			t.Errorf("%d calls within a minute, budget %d", got, rpm)
		}
		if elapsed, least := time.Since(start), time.Duration(calls-1)*time.Minute/rpm; elapsed < least {
			t.Errorf("%d calls took %s, want at least %s", calls, elapsed, least)
		}
	})
}

func TestRetriesA429(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := sandbox.New(sandbox.Options{Tokens: map[string]string{tenantA: apiA}, RateLimit: 3, RateWindow: time.Minute})
		defer sb.Close()
		// The client believes in a larger budget than the server grants.
		c, _ := subscription.NewClient("http://aurora.invalid", 6000, &http.Client{Transport: handlerTransport{sb.Handler()}}, nil)
		tenants := []subscription.Tenant{{ID: tenantA, APIToken: apiA, HeaderKey: "X-T", HeaderValue: "v"}}
		rep, err := subscription.Sync(t.Context(), c, tenants, subscription.Options{PublicURL: "https://b.example.com"})
		if err != nil || rep.Writes != len(schema.AuroraLeadEvents()) {
			t.Fatalf("sync through 429s: %v, %d writes", err, rep.Writes)
		}
		if sb.Stats().ByStatus[http.StatusTooManyRequests] == 0 {
			t.Fatal("the server never answered 429: the test proves nothing")
		}
	})
}

// A failed call's error names the method and route, not the URL it failed
// on: the base URL's user info, or a redirect target's query (a signed
// URL's key).
func TestCallErrorsNameTheRouteOnly(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, deadURL+"/signed?signature=sig-topsecret", http.StatusFound)
	}))
	defer redirect.Close()
	for name, base := range map[string]string{
		"redirected": strings.Replace(redirect.URL, "http://", "http://user-topsecret@", 1),
		"refused":    strings.Replace(deadURL, "http://", "http://user-topsecret@", 1),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := subscription.NewClient(base, 60000, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.List(t.Context(), tenantA, apiA)
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range []string{"topsecret", "signature=", apiA} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q carries %q", err, s)
				}
			}
			if !strings.Contains(err.Error(), "GET /tenants/"+tenantA+"/webhooks") {
				t.Errorf("error %q does not name the call", err)
			}
		})
	}
}
