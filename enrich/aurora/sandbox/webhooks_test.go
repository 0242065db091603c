package sandbox_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
)

// receiver is a webhook endpoint that records what it gets.
type receiver struct {
	URL     string
	mu      sync.Mutex
	got     []*http.Request
	respond func(n int) int // status for the n-th request, from 1
}

func newReceiver(tb testing.TB, respond func(n int) int) *receiver {
	tb.Helper()
	rc := &receiver{respond: respond}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.got = append(rc.got, r.Clone(context.Background()))
		n := len(rc.got)
		rc.mu.Unlock()
		status := http.StatusOK
		if rc.respond != nil {
			status = rc.respond(n)
		}
		if status == 0 { // hang until the sender gives up
			<-r.Context().Done()
			return
		}
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(status)
	}))
	tb.Cleanup(srv.Close)
	rc.URL = srv.URL
	return rc
}

func (rc *receiver) requests() []*http.Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*http.Request(nil), rc.got...)
}

func waitIdle(tb testing.TB, s *sandbox.Server) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 10*time.Second)
	defer cancel()
	if err := s.WaitIdle(ctx); err != nil {
		tb.Fatalf("deliveries still pending: %v", err)
	}
}

const (
	headerSecret = "hdr-5ecret-value"
	basicSecret  = "basic-5ecret-password"
)

func TestWebhookCRUD(t *testing.T) {
	s, base, _ := start(t, sandbox.Options{})
	hooks := base + "/tenants/" + tenant + "/webhooks"

	created := call(t, http.MethodPost, hooks, token, map[string]any{"webhook": map[string]any{
		"description":       "Lead Created",
		"event":             "lead_created",
		"url_template":      "https://bridge.example/webhooks/aurora/t/lead_created?lead_id=<LEAD_ID>",
		"header_auth_key":   "X-Aurora-Webhook-Token",
		"header_auth_value": headerSecret,
		"filters":           map[string]any{"SOURCE": []string{"lcai"}},
	}})
	if created.status != 200 {
		t.Fatalf("create: %d %s", created.status, created.body)
	}
	hook := decode(t, created.body)["webhook"].(map[string]any)
	id := hook["id"].(string)
	if hook["enabled"] != true {
		t.Error("enabled does not default to true")
	}
	if hook["header_auth_value"] != sandbox.Mask || hook["header_auth_key"] != "X-Aurora-Webhook-Token" {
		t.Errorf("auth fields %v %v", hook["header_auth_key"], hook["header_auth_value"])
	}
	if f := hook["filters"].(map[string]any); f["<SOURCE>"] == nil {
		t.Errorf("filters %v, want key <SOURCE>", f)
	}

	basic := call(t, http.MethodPost, hooks, token, map[string]any{
		"event": "lead_changed", "url_template": "https://bridge.example/x?lead_id=<LEAD_ID>", "enabled": false,
		"basic_auth_username": "bridge", "basic_auth_password": basicSecret,
	})
	if basic.status != 200 {
		t.Fatalf("create bare: %d %s", basic.status, basic.body)
	}

	list := call(t, http.MethodGet, hooks, token, nil)
	one := call(t, http.MethodGet, hooks+"/"+id, token, nil)
	updated := call(t, http.MethodPut, hooks+"/"+id, token, map[string]any{"webhook": map[string]any{
		"description": "renamed", "header_auth_value": sandbox.Mask, "enabled": false,
	}})
	for name, r := range map[string]response{"create": created, "create bare": basic, "list": list, "get": one, "update": updated} {
		if r.status != 200 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
		if strings.Contains(string(r.body), headerSecret) || strings.Contains(string(r.body), basicSecret) {
			t.Errorf("%s answer echoes a secret: %s", name, r.body)
		}
	}
	items := decode(t, list.body)["webhooks"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["id"] != id {
		t.Errorf("list %s", list.body)
	}
	if got := decode(t, updated.body)["webhook"].(map[string]any); got["description"] != "renamed" || got["enabled"] != false || got["header_auth_value"] != sandbox.Mask {
		t.Errorf("update answered %v", got)
	}
	// Go access masks too.
	for _, w := range s.Webhooks(tenant) {
		if w.HeaderAuthValue == headerSecret || w.BasicAuthPassword == basicSecret {
			t.Errorf("Webhooks() leaks a secret: %+v", w)
		}
	}
	// Other tenants see nothing.
	if r := call(t, http.MethodGet, base+"/tenants/"+tenant2+"/webhooks/"+id, token2, nil); r.status != 404 {
		t.Errorf("other tenant get: %d", r.status)
	}

	if r := call(t, http.MethodDelete, hooks+"/"+id, token, nil); r.status != 204 {
		t.Errorf("delete: %d", r.status)
	}
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		if r := call(t, m, hooks+"/"+id, token, map[string]any{}); r.status != 404 {
			t.Errorf("%s after delete: %d", m, r.status)
		}
	}
	if r := call(t, http.MethodGet, hooks, "wrong", nil); r.status != 401 {
		t.Errorf("list with a wrong token: %d", r.status)
	}
}

func TestWebhookValidation(t *testing.T) {
	valid := func() map[string]any {
		return map[string]any{"event": "lead_created", "url_template": "https://x.example/h?lead_id=<LEAD_ID>"}
	}
	tests := map[string]struct {
		change     map[string]any
		raw        string // sent instead of the webhook when set
		wantStatus int
	}{
		"valid":                         {wantStatus: 200},
		"unknown but well-formed event": {change: map[string]any{"event": "lead_teleported"}, wantStatus: 200},
		"bad event name":                {change: map[string]any{"event": "Lead Created"}, wantStatus: 422},
		"no event":                      {change: map[string]any{"event": ""}, wantStatus: 422},
		"relative url":                  {change: map[string]any{"url_template": "/h?lead_id=<LEAD_ID>"}, wantStatus: 422},
		"ftp url":                       {change: map[string]any{"url_template": "ftp://x.example/<LEAD_ID>"}, wantStatus: 422},
		"both auth kinds": {change: map[string]any{
			"header_auth_key": "X-T", "header_auth_value": headerSecret, "basic_auth_username": "u", "basic_auth_password": basicSecret,
		}, wantStatus: 422},
		"header key without value":  {change: map[string]any{"header_auth_key": "X-T"}, wantStatus: 422},
		"bad header name":           {change: map[string]any{"header_auth_key": "X T", "header_auth_value": headerSecret}, wantStatus: 422},
		"header value with newline": {change: map[string]any{"header_auth_key": "X-T", "header_auth_value": headerSecret + "\r\nX: y"}, wantStatus: 422},
		"password without user":     {change: map[string]any{"basic_auth_password": basicSecret}, wantStatus: 422},
		"filter not an attribute":   {change: map[string]any{"filters": map[string]any{"<STATUS>": []string{"x"}}}, wantStatus: 422},
		"filter without values":     {change: map[string]any{"filters": map[string]any{"<SOURCE>": []string{}}}, wantStatus: 422},
		"filter on source":          {change: map[string]any{"filters": map[string]any{"<SOURCE>": []string{"lcai"}}}, wantStatus: 200},
		"not JSON":                  {raw: "{", wantStatus: 400},
		"webhook not an object":     {raw: `{"webhook": 1}`, wantStatus: 400},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, base, _ := start(t, sandbox.Options{})
			var body any = map[string]any{"webhook": withFields(valid(), tc.change)}
			if tc.raw != "" {
				body = tc.raw
			}
			r := call(t, http.MethodPost, base+"/tenants/"+tenant+"/webhooks", token, body)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			if strings.Contains(string(r.body), headerSecret) || strings.Contains(string(r.body), basicSecret) {
				t.Errorf("answer echoes a secret: %s", r.body)
			}
		})
	}

	t.Run("at most five per event", func(t *testing.T) {
		s, base, _ := start(t, sandbox.Options{})
		for i := range sandbox.MaxWebhooksPerEvent {
			if _, err := s.AddWebhook(tenant, sandbox.Webhook{Event: "lead_created", URLTemplate: "https://x.example/", Enabled: i%2 == 0}); err != nil {
				t.Fatal(err)
			}
		}
		if r := call(t, http.MethodPost, base+"/tenants/"+tenant+"/webhooks", token, map[string]any{"webhook": valid()}); r.status != 422 {
			t.Errorf("sixth: %d", r.status)
		}
		other, err := s.AddWebhook(tenant, sandbox.Webhook{Event: "lead_changed", URLTemplate: "https://x.example/"})
		if err != nil {
			t.Fatal(err)
		}
		if r := call(t, http.MethodPut, base+"/tenants/"+tenant+"/webhooks/"+other.ID, token, map[string]any{"webhook": map[string]any{"event": "lead_created"}}); r.status != 422 {
			t.Errorf("moving a sixth onto the event: %d", r.status)
		}
		if _, err := s.AddWebhook(tenant2, sandbox.Webhook{Event: "lead_created", URLTemplate: "https://x.example/"}); err != nil {
			t.Errorf("limit is per tenant: %v", err)
		}
	})
}

func TestWebhookFiresOnLeadEvents(t *testing.T) {
	rc := newReceiver(t, nil)
	s, base, logs := start(t, sandbox.Options{})
	hdr, err := s.AddWebhook(tenant, sandbox.Webhook{
		Event:           "lead_created",
		URLTemplate:     rc.URL + "/webhooks/aurora/" + tenant + "/lead_created?lead_id=<LEAD_ID>&source=<SOURCE>",
		Enabled:         true,
		HeaderAuthKey:   "X-Aurora-Webhook-Token",
		HeaderAuthValue: headerSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	basic, err := s.AddWebhook(tenant, sandbox.Webhook{
		Event:             "lead_changed",
		URLTemplate:       rc.URL + "/webhooks/aurora/" + tenant + "?aurora_event=lead_changed&lead_id=<LEAD_ID>",
		Enabled:           true,
		BasicAuthUsername: "bridge",
		BasicAuthPassword: basicSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Disabled, and another tenant's: neither fires.
	if _, err := s.AddWebhook(tenant, sandbox.Webhook{Event: "lead_created", URLTemplate: rc.URL + "/disabled"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddWebhook(tenant2, sandbox.Webhook{Event: "lead_created", URLTemplate: rc.URL + "/other", Enabled: true}); err != nil {
		t.Fatal(err)
	}

	created := call(t, http.MethodPost, base+"/tenants/"+tenant+"/leads", token, map[string]any{"lead": tutorialLead()})
	id := decode(t, created.body)["lead"].(map[string]any)["id"].(string)
	waitIdle(t, s)
	call(t, http.MethodPatch, leadURL(base, tenant, id), token, map[string]any{"status": "x"})
	waitIdle(t, s)

	got := rc.requests()
	if len(got) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(got))
	}
	first, second := got[0], got[1]
	if first.Method != http.MethodGet || first.URL.Path != "/webhooks/aurora/"+tenant+"/lead_created" ||
		first.URL.RawQuery != "lead_id="+id+"&source=api" {
		t.Errorf("lead_created webhook: %s %s", first.Method, first.URL)
	}
	if v := first.Header.Get("X-Aurora-Webhook-Token"); v != headerSecret {
		t.Errorf("header auth %q", v)
	}
	if _, _, ok := first.BasicAuth(); ok {
		t.Error("header-auth webhook carries basic auth")
	}
	if second.URL.RawQuery != "aurora_event=lead_changed&lead_id="+id {
		t.Errorf("lead_changed webhook: %s", second.URL)
	}
	if u, p, ok := second.BasicAuth(); !ok || u != "bridge" || p != basicSecret {
		t.Errorf("basic auth %q %q %v", u, p, ok)
	}

	ds := s.Deliveries()
	if len(ds) != 2 || ds[0].WebhookID != hdr.ID || ds[1].WebhookID != basic.ID {
		t.Fatalf("deliveries %+v", ds)
	}
	for _, d := range ds {
		if !d.Done || !d.Delivered || d.Outcome != "delivered" || len(d.Attempts) != 1 || d.Attempts[0].Status != 200 {
			t.Errorf("delivery %+v", d)
		}
	}
	assertCleanLogs(t, logs, token, headerSecret, basicSecret, "lead_id=", "Jane", "Brannan", "555")
}

func TestWebhookURLTemplate(t *testing.T) {
	tests := map[string]struct {
		event     string
		template  string
		attrs     map[string]string
		wantQuery string
	}{
		"escaped values": {
			event: "project_status_changed", template: "/h?project_id=<PROJECT_ID>&status=<STATUS>",
			attrs:     map[string]string{"project_id": "p/1", "status": "In Progress & done=1"},
			wantQuery: "project_id=p%2F1&status=In+Progress+%26+done%3D1",
		},
		"missing attribute is empty": {
			event: "lead_created", template: "/h?lead_id=<LEAD_ID>&source=<SOURCE>",
			attrs:     map[string]string{"lead_id": "l1"},
			wantQuery: "lead_id=l1&source=",
		},
		"design request alias": {
			event: "design_request_completed", template: "/h?design_request_id=<DESIGN_REQUEST_ID_IN_AURORA>&status=<STATUS>",
			attrs:     map[string]string{"design_request_id": "dr1", "status": "designer_completed"},
			wantQuery: "design_request_id=dr1&status=designer_completed",
		},
		"static attribute kept": {
			event: "lead_changed", template: "/h?aurora_event=lead_changed&lead_id=<LEAD_ID>",
			attrs:     map[string]string{"lead_id": "l1"},
			wantQuery: "aurora_event=lead_changed&lead_id=l1",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rc := newReceiver(t, nil)
			s, _, _ := start(t, sandbox.Options{})
			if _, err := s.AddWebhook(tenant, sandbox.Webhook{Event: tc.event, URLTemplate: rc.URL + tc.template, Enabled: true}); err != nil {
				t.Fatal(err)
			}
			if n := s.Fire(t.Context(), tenant, tc.event, tc.attrs); n != 1 {
				t.Fatalf("Fire started %d deliveries", n)
			}
			waitIdle(t, s)
			got := rc.requests()
			if len(got) != 1 || got[0].URL.RawQuery != tc.wantQuery {
				t.Fatalf("requests %v, want query %s", got, tc.wantQuery)
			}
			if d := s.Deliveries()[0]; d.URL != rc.URL+"/h?"+tc.wantQuery {
				t.Errorf("delivery URL %s", d.URL)
			}
		})
	}
}

func TestWebhookFilters(t *testing.T) {
	rc := newReceiver(t, nil)
	s, _, _ := start(t, sandbox.Options{})
	for _, w := range []sandbox.Webhook{
		{Event: "project_status_changed", URLTemplate: rc.URL + "/status?s=<STATUS>", Enabled: true,
			Filters: map[string][]string{"<STATUS>": {"In Progress", "Completed"}}},
		{Event: "lead_created", URLTemplate: rc.URL + "/lcai", Enabled: true,
			Filters: map[string][]string{"SOURCE": {"lcai"}}},
	} {
		if _, err := s.AddWebhook(tenant, w); err != nil {
			t.Fatal(err)
		}
	}
	tests := map[string]struct {
		event string
		attrs map[string]string
		want  int
	}{
		"allowed status":        {"project_status_changed", map[string]string{"project_id": "p", "status": "Completed"}, 1},
		"other allowed status":  {"project_status_changed", map[string]string{"project_id": "p", "status": "In Progress"}, 1},
		"filtered status":       {"project_status_changed", map[string]string{"project_id": "p", "status": "Design"}, 0},
		"status missing":        {"project_status_changed", map[string]string{"project_id": "p"}, 0},
		"case matters":          {"project_status_changed", map[string]string{"project_id": "p", "status": "completed"}, 0},
		"lcai lead":             {"lead_created", map[string]string{"lead_id": "l", "source": "lcai"}, 1},
		"api lead filtered out": {"lead_created", map[string]string{"lead_id": "l", "source": "api"}, 0},
		"event nobody wants":    {"design_created", map[string]string{"design_id": "d"}, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if n := s.Fire(t.Context(), tenant, tc.event, tc.attrs); n != tc.want {
				t.Errorf("Fire started %d deliveries, want %d", n, tc.want)
			}
		})
	}
	// PutLead fires lead_created with source=api: filtered out.
	s.PutLead(tenant, tutorialLead())
	waitIdle(t, s)
	if n := len(rc.requests()); n != 3 {
		t.Errorf("receiver got %d requests, want 3", n)
	}
}

func TestWebhookRetries(t *testing.T) {
	const compression = 100000 // 30 s -> 0.3 ms ... 20 h -> 720 ms
	schedule := sandbox.RetrySchedule()

	t.Run("failing receiver gets 1+5 attempts on the schedule", func(t *testing.T) {
		rc := newReceiver(t, func(int) int { return http.StatusInternalServerError })
		s, _, _ := start(t, sandbox.Options{RetryCompression: compression})
		if _, err := s.AddWebhook(tenant, sandbox.Webhook{Event: "lead_changed", URLTemplate: rc.URL + "/h?lead_id=<LEAD_ID>", Enabled: true}); err != nil {
			t.Fatal(err)
		}
		s.Fire(t.Context(), tenant, "lead_changed", map[string]string{"lead_id": "l1"})
		waitIdle(t, s)

		d := s.Deliveries()[0]
		if len(d.Attempts) != 1+len(schedule) || len(rc.requests()) != 1+len(schedule) {
			t.Fatalf("%d attempts recorded, %d received, want %d", len(d.Attempts), len(rc.requests()), 1+len(schedule))
		}
		if d.Delivered || d.Outcome != "retries exhausted" {
			t.Errorf("outcome %q delivered %v", d.Outcome, d.Delivered)
		}
		for i, wait := range schedule {
			gap := d.Attempts[i+1].At.Sub(d.Attempts[i].At)
			if min := wait / compression; gap < min {
				t.Errorf("retry %d came %v after the previous attempt, before %v", i+1, gap, min)
			}
			if d.Attempts[i].Status != 500 {
				t.Errorf("attempt %d status %d", i+1, d.Attempts[i].Status)
			}
		}
	})

	t.Run("stops at the first 2xx", func(t *testing.T) {
		rc := newReceiver(t, func(n int) int {
			if n < 3 {
				return http.StatusServiceUnavailable
			}
			return http.StatusNoContent
		})
		s, _, _ := start(t, sandbox.Options{RetryCompression: compression})
		if _, err := s.AddWebhook(tenant, sandbox.Webhook{Event: "lead_changed", URLTemplate: rc.URL + "/h", Enabled: true}); err != nil {
			t.Fatal(err)
		}
		s.Fire(t.Context(), tenant, "lead_changed", map[string]string{"lead_id": "l1"})
		waitIdle(t, s)
		d := s.Deliveries()[0]
		if !d.Delivered || len(d.Attempts) != 3 || d.Attempts[2].Status != 204 {
			t.Errorf("delivery %+v", d)
		}
	})

	t.Run("redirect and timeout are failures", func(t *testing.T) {
		rc := newReceiver(t, func(n int) int {
			switch n {
			case 1:
				return http.StatusFound
			case 2:
				return 0 // hang
			}
			return http.StatusOK
		})
		s, _, _ := start(t, sandbox.Options{RetryCompression: compression, WebhookTimeout: 50 * time.Millisecond})
		if _, err := s.AddWebhook(tenant, sandbox.Webhook{Event: "lead_changed", URLTemplate: rc.URL + "/h", Enabled: true}); err != nil {
			t.Fatal(err)
		}
		s.Fire(t.Context(), tenant, "lead_changed", map[string]string{"lead_id": "l1"})
		waitIdle(t, s)
		d := s.Deliveries()[0]
		if !d.Delivered || len(d.Attempts) != 3 {
			t.Fatalf("delivery %+v", d)
		}
		if d.Attempts[0].Status != 302 || d.Attempts[1].Status != 0 || d.Attempts[1].Error == "" {
			t.Errorf("attempts %+v", d.Attempts)
		}
		for _, r := range rc.requests() {
			if r.URL.Path == "/elsewhere" {
				t.Error("redirect followed")
			}
		}
	})

	t.Run("retries use the latest definition", func(t *testing.T) {
		good := newReceiver(t, nil)
		bad := newReceiver(t, func(int) int { return http.StatusUnauthorized })
		s, base, _ := start(t, sandbox.Options{RetryCompression: 1000}) // first retry after 30 ms
		w, err := s.AddWebhook(tenant, sandbox.Webhook{Event: "lead_changed", URLTemplate: bad.URL + "/h?lead_id=<LEAD_ID>", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		s.Fire(t.Context(), tenant, "lead_changed", map[string]string{"lead_id": "l1"})
		r := call(t, http.MethodPut, base+"/tenants/"+tenant+"/webhooks/"+w.ID, token, map[string]any{"webhook": map[string]any{"url_template": good.URL + "/fixed?lead_id=<LEAD_ID>"}})
		if r.status != 200 {
			t.Fatalf("update: %d %s", r.status, r.body)
		}
		waitIdle(t, s)
		d := s.Deliveries()[0]
		if !d.Delivered || len(d.Attempts) != 2 || d.URL != good.URL+"/fixed?lead_id=l1" {
			t.Errorf("delivery %+v", d)
		}
	})

	stops := map[string]struct {
		stop    func(s *sandbox.Server, base, id string)
		outcome string
	}{
		"disabling stops retries": {outcome: "webhook disabled", stop: func(s *sandbox.Server, base, id string) {
			call(t, http.MethodPut, base+"/tenants/"+tenant+"/webhooks/"+id, token, map[string]any{"webhook": map[string]any{"enabled": false}})
		}},
		"deleting stops retries": {outcome: "webhook deleted", stop: func(s *sandbox.Server, _, id string) {
			s.DeleteWebhook(tenant, id)
		}},
		"Close stops retries": {outcome: "server closed", stop: func(s *sandbox.Server, _, _ string) {
			s.SetRetryCompression(1) // a wait begun keeps its length; a new one would be 5 min
			s.Close()
		}},
	}
	for name, tc := range stops {
		t.Run(name, func(t *testing.T) {
			rc := newReceiver(t, func(int) int { return http.StatusBadGateway })
			// The first retry comes 300 ms after the first attempt: time
			// enough to change the subscription before it.
			s, base, _ := start(t, sandbox.Options{RetryCompression: 100})
			w, err := s.AddWebhook(tenant, sandbox.Webhook{Event: "lead_changed", URLTemplate: rc.URL + "/h", Enabled: true})
			if err != nil {
				t.Fatal(err)
			}
			s.Fire(t.Context(), tenant, "lead_changed", map[string]string{"lead_id": "l1"})
			for len(s.Deliveries()[0].Attempts) == 0 {
				time.Sleep(time.Millisecond)
			}
			tc.stop(s, base, w.ID)
			waitIdle(t, s)
			d := s.Deliveries()[0]
			if d.Delivered || len(d.Attempts) != 1 || d.Outcome != tc.outcome {
				t.Errorf("delivery %+v, want outcome %q", d, tc.outcome)
			}
			s.Close()
			if s.Fire(t.Context(), tenant, "lead_changed", map[string]string{"lead_id": "l1"}) != 0 {
				t.Error("Fire after Close started a delivery")
			}
		})
	}
}
