package ingest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/leadbridge/leadbridge/schema"
	"github.com/leadbridge/leadbridge/schema/golden"
)

func newTestServer(tb testing.TB, pub Publisher, mutate ...func(*Config)) (*Server, *observer.ObservedLogs) {
	tb.Helper()
	cfg := testConfig()
	cfg.Now = func() time.Time { return fixedClock }
	for _, m := range mutate {
		m(&cfg)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	return NewServer(cfg, pub, zap.New(core)), logs
}

func serve(s *Server, d delivery) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, d.request())
	return w
}

func TestGoldenDeliveries(t *testing.T) {
	for name, d := range goldenDeliveries(t) {
		t.Run(name, func(t *testing.T) {
			ev, _ := sendOne(t, d)
			evs := []schema.Event{ev}
			if !evs[0].Time.Equal(fixedClock) {
				t.Fatalf("ce_time %v, want the receive time", evs[0].Time)
			}
			var value struct{ Problems []schema.Problem }
			if err := json.Unmarshal(evs[0].Data, &value); err != nil {
				t.Fatal(err)
			}
			if want := strings.Contains(name, "problem"); (len(value.Problems) > 0) != want {
				t.Fatalf("problems %v, want some: %v", value.Problems, want)
			}
			if d.method == http.MethodPost {
				// LeadPro data is the signed payload byte for byte (the golden
				// pretty-prints it), with the problems appended when there are some.
				tok, _ := schema.BearerToken(d.header.Get("Authorization"))
				payload, _ := VerifyLeadPro(tok, []schema.Secret{signingKey, oldKey}, fixedClock)
				verbatim := string(evs[0].Data) == string(payload)
				if len(value.Problems) > 0 {
					verbatim = strings.HasPrefix(string(evs[0].Data), strings.TrimSuffix(string(payload), "}"))
				}
				if !verbatim {
					t.Fatalf("data is not the verbatim payload:\n%s", evs[0].Data)
				}
			}
			golden.Check(t, name+".golden", []byte(renderRecord(t, evs[0].Record())))
		})
	}
}

// Every rejected request gets its status and leaves no trace: nothing is published.
func TestRejectedLeaveNoTrace(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	valid := signHS256(t, leadproCreated, signingKey)
	parts := strings.Split(valid, ".")
	altered := parts[0] + "." + b64([]byte(strings.Replace(leadproCreated, `"id":2`, `"id":3`, 1))) + "." + parts[2]
	expired := signHS256(t, `{"event":"lead.created","data":{"id":2},"exp":`+fmt.Sprint(fixedClock.Add(-2*time.Minute).Unix())+`}`, signingKey)
	notYet := signHS256(t, `{"event":"lead.created","data":{"id":2},"nbf":`+fmt.Sprint(fixedClock.Add(2*time.Minute).Unix())+`}`, signingKey)
	futureIat := signHS256(t, `{"event":"lead.created","data":{"id":2},"iat":`+fmt.Sprint(fixedClock.Add(5*time.Minute).Unix())+`}`, signingKey)
	algNone := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(leadproCreated)) + "."
	withHeader := func(d delivery, k, v string) delivery {
		h := d.header.Clone()
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
		d.header = h
		return d
	}
	lead := "/lead_created?lead_id=L1&source=api"
	tests := map[string]struct {
		d      delivery
		status int
	}{
		// auth attacks
		"aurora no token":            {withHeader(auroraGet(tenantHeader, lead), "X-Aurora-Webhook-Token", ""), 401},
		"aurora wrong token":         {withHeader(auroraGet(tenantHeader, lead), "X-Aurora-Webhook-Token", "nope"), 401},
		"aurora token prefix":        {withHeader(auroraGet(tenantHeader, lead), "X-Aurora-Webhook-Token", webhookToken[:10]), 401},
		"aurora token twice":         {delivery{"GET", "/webhooks/aurora/" + tenantHeader + lead, http.Header{"X-Aurora-Webhook-Token": {"nope", webhookToken}}, ""}, 401},
		"aurora unknown tenant":      {auroraGet("00000000-0000-0000-0000-000000000000", lead), 401},
		"aurora wrong basic pass":    {basicWith(basicUser, "wrong"), 401},
		"aurora wrong basic user":    {basicWith("admin", basicPass), 401},
		"aurora basic no auth":       {delivery{"GET", "/webhooks/aurora/" + tenantBasic + lead, http.Header{}, ""}, 401},
		"aurora token for basic":     {auroraGet(tenantBasic, lead), 401},
		"leadpro no token":           {withHeader(leadproPost(t, account, valid, leadproCreated), "Authorization", ""), 401},
		"leadpro unknown account":    {leadproPost(t, "1234", valid, leadproCreated), 401},
		"leadpro alg none":           {leadproPost(t, account, algNone, leadproCreated), 401},
		"leadpro HS512":              {leadproPost(t, account, signWith(t, jwt.SigningMethodHS512, leadproCreated, []byte(signingKey)), leadproCreated), 401},
		"leadpro HS384":              {leadproPost(t, account, signWith(t, jwt.SigningMethodHS384, leadproCreated, []byte(signingKey)), leadproCreated), 401},
		"leadpro RS256":              {leadproPost(t, account, signWith(t, jwt.SigningMethodRS256, leadproCreated, rsaKey), leadproCreated), 401},
		"leadpro wrong secret":       {leadproPost(t, account, signHS256(t, leadproCreated, "guess"), leadproCreated), 401},
		"leadpro expired":            {leadproPost(t, account, expired, ""), 401},
		"leadpro not yet valid":      {leadproPost(t, account, notYet, ""), 401},
		"leadpro issued in future":   {leadproPost(t, account, futureIat, ""), 401},
		"leadpro payload altered":    {leadproPost(t, account, altered, ""), 401},
		"leadpro garbage token":      {leadproPost(t, account, "a.b.c", ""), 401},
		"leadpro payload not object": {leadproPost(t, account, signHS256(t, `[1]`, signingKey), ""), 401},
		// size and routes
		"leadpro body over limit":  {leadproPost(t, account, valid, strings.Repeat(" ", 2048)), 413},
		"leadpro token over limit": {leadproPost(t, account, signHS256(t, `{"event":"lead.created","data":{"id":2,"message":"`+strings.Repeat("m", 1024)+`"}}`, signingKey), ""), 413},
		"aurora wrong method":      {delivery{"POST", "/webhooks/aurora/" + tenantHeader + lead, nil, ""}, 405},
		"leadpro wrong method":     {delivery{"GET", "/webhooks/leadpro/" + account, nil, ""}, 405},
		"unknown path":             {delivery{"GET", "/webhooks/other", nil, ""}, 404},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pub := &fakePublisher{}
			reg := prometheus.NewRegistry()
			s, _ := newTestServer(t, pub, func(c *Config) { c.MaxBodyBytes = 1024; c.Metrics = reg })
			w := serve(s, tc.d)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if n := len(pub.Events()); n != 0 {
				t.Fatalf("%d events published for a rejected request", n)
			}
			// Metrics count it under a fixed reason only: no label is
			// derived from what the request said (its path's event).
			for _, label := range counted(t, reg) {
				if label != "event=other" {
					t.Fatalf("a rejected request is counted under %s, derived from its content", label)
				}
			}
			if tc.status == 401 && !strings.Contains(w.Body.String(), `"unauthorized"`) {
				t.Fatalf("401 body %s: every auth failure must answer the same", w.Body)
			}
		})
	}
}

func basicWith(user, pass string) delivery {
	d := delivery{method: "GET", path: "/webhooks/aurora/" + tenantBasic + "/lead_created?lead_id=L1", header: http.Header{}}
	r := &http.Request{Header: d.header}
	r.SetBasicAuth(user, pass)
	return d
}

// A provider never gets 200 unless the publisher acknowledged: overload,
// a missed ack deadline and draining all answer 503 with Retry-After.
func TestUnavailableIs503(t *testing.T) {
	lead := auroraGet(tenantHeader, "/lead_created?lead_id=L1&source=api")
	tests := map[string]struct {
		publish func(ctx context.Context, ev schema.Event) error
		drain   bool
	}{
		"overloaded": {publish: func(context.Context, schema.Event) error { return ErrOverloaded }},
		"no ack in time": {publish: func(ctx context.Context, _ schema.Event) error {
			<-ctx.Done() // a broker that never answers
			return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		}},
		"broker error": {publish: func(context.Context, schema.Event) error {
			return fmt.Errorf("%w: produce raw event: %w", ErrUnavailable, errors.New("NOT_ENOUGH_REPLICAS"))
		}},
		"draining": {drain: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pub := &fakePublisher{PublishFn: tc.publish}
			s, _ := newTestServer(t, pub, func(c *Config) { c.AckTimeout = 50 * time.Millisecond })
			if tc.drain {
				s.Drain()
			}
			start := time.Now()
			w := serve(s, lead)
			if w.Code != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503", w.Code)
			}
			if w.Header().Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			if time.Since(start) > 5*time.Second {
				t.Fatal("the ack deadline was not applied")
			}
		})
	}
}

// The client hanging up must not cancel the publish (kgo would fail the whole
// batch with it); the publish has its own deadline.
func TestPublishIgnoresClientCancel(t *testing.T) {
	var sawCanceled bool
	pub := &fakePublisher{PublishFn: func(ctx context.Context, _ schema.Event) error {
		time.Sleep(20 * time.Millisecond)
		sawCanceled = ctx.Err() != nil
		if _, ok := ctx.Deadline(); !ok {
			t.Error("publish context has no deadline")
		}
		return nil
	}}
	s, _ := newTestServer(t, pub)
	ctx, cancel := context.WithCancel(context.Background())
	r := auroraGet(tenantHeader, "/lead_changed?lead_id=L1").request().WithContext(ctx)
	cancel()
	s.Handler().ServeHTTP(httptest.NewRecorder(), r)
	if sawCanceled {
		t.Fatal("publish context was canceled with the request")
	}
}

// Nothing a provider sends (tokens, query values, bodies, names, emails,
// phones) reaches a log line, whatever the outcome.
func TestLogsCarryNoPIIOrSecrets(t *testing.T) {
	pub := &fakePublisher{}
	fails := 0
	pub.PublishFn = func(context.Context, schema.Event) error {
		fails++
		if fails%2 == 0 {
			return fmt.Errorf("%w: boom", ErrUnavailable)
		}
		return nil
	}
	s, logs := newTestServer(t, pub)
	ds := goldenDeliveries(t)
	ds["bad"] = auroraGet(tenantHeader, "/lead_created?lead_id=secret-query-value%0A")
	ds["wrong"] = leadproPost(t, account, signHS256(t, leadproCreated, "guess"), leadproCreated)
	for _, d := range ds {
		serve(s, d)
		serve(s, d)
	}
	forbidden := []string{webhookToken, basicPass, signingKey, oldKey, "Branson", "rbranson", "07123456789",
		"Asimov", "N1 3JY", "Lovelace", "ada@example.com", "lead_id=", "secret-query-value", "f0d1c2b3", "eyJ"}
	if logs.Len() == 0 {
		t.Fatal("no logs captured: the test would prove nothing")
	}
	for _, e := range logs.All() {
		line := e.Message + " " + fmt.Sprint(e.ContextMap())
		for _, f := range forbidden {
			if strings.Contains(line, f) {
				t.Errorf("log line carries %q: %s", f, line)
			}
		}
	}
}

// counted lists, as name=value, the labels other than provider and outcome
// of every non-zero series of reg.
func counted(tb testing.TB, reg *prometheus.Registry) []string {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if m.GetCounter().GetValue() == 0 && m.GetHistogram().GetSampleCount() == 0 {
				continue
			}
			for _, l := range m.GetLabel() {
				if l.GetName() != "provider" && l.GetName() != "outcome" {
					out = append(out, l.GetName()+"="+l.GetValue())
				}
			}
		}
	}
	return out
}
