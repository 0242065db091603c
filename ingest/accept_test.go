package ingest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadbridge/leadbridge/schema"
)

// sendOne serves d on a fresh server and returns the one published event and
// the server's metrics registry; it fails unless the answer is 200.
func sendOne(t *testing.T, d delivery) (schema.Event, *prometheus.Registry) {
	t.Helper()
	pub := &fakePublisher{}
	reg := prometheus.NewRegistry()
	s, _ := newTestServer(t, pub, func(c *Config) { c.Metrics = reg })
	w := serve(s, d)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	evs := pub.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events published, want 1", len(evs))
	}
	var resp struct{ ID string }
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.ID != evs[0].ID {
		t.Fatalf("answer %s does not carry the event id %s", w.Body, evs[0].ID)
	}
	return evs[0], reg
}

func auroraDataOf(t *testing.T, ev schema.Event) schema.AuroraData {
	t.Helper()
	var d schema.AuroraData
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func outcomes(t *testing.T, reg *prometheus.Registry, provider, event, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "leadbridge_ingest_deliveries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["provider"] == provider && labels["event"] == event && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// Aurora's overview: "you may specify which of the event's attributes should
// be included". For each of the 26 events, the suggested template (every
// attribute) is accepted clean, and a template with only the main id is
// accepted with each left-out attribute flagged; both are keyed by the main id.
func TestAuroraTemplates(t *testing.T) {
	names := schema.AuroraEventNames()
	if len(names) != 26 {
		t.Fatalf("%d events in the table, Aurora documents 26", len(names))
	}
	for _, name := range names {
		ev, _ := schema.AuroraEventNamed(name)
		t.Run("every attribute/"+name, func(t *testing.T) {
			got, reg := sendOne(t, everyAttribute(name))
			d := auroraDataOf(t, got)
			if len(d.Problems) != 0 || len(d.Attributes) != len(slices.Collect(ev.Attributes())) {
				t.Fatalf("problems %v attributes %v", d.Problems, d.Attributes)
			}
			main, _ := schema.AuroraMainID(d.Attributes)
			if got.PartitionKey != schema.AuroraKey(tenantHeader, main) || got.Subject != main {
				t.Fatalf("key %q subject %q, want the main id %q", got.PartitionKey, got.Subject, main)
			}
			if outcomes(t, reg, "aurora", name, "accepted") != 1 {
				t.Fatal("not counted as accepted")
			}
		})
		t.Run("only main id/"+name, func(t *testing.T) {
			d0, mainAttr := onlyMainID(name)
			got, reg := sendOne(t, d0)
			d := auroraDataOf(t, got)
			var missing []string
			for _, p := range d.Problems {
				if p.Problem != "missing" {
					t.Fatalf("unexpected problem %v", p)
				}
				missing = append(missing, p.Field)
			}
			var want []string
			for a := range ev.Attributes() {
				if a != mainAttr {
					want = append(want, a)
				}
			}
			slices.Sort(want)
			if !slices.Equal(missing, want) {
				t.Fatalf("flagged missing %v, want %v", missing, want)
			}
			if got.PartitionKey != schema.AuroraKey(tenantHeader, auroraValue(mainAttr)) {
				t.Fatalf("key %q", got.PartitionKey)
			}
			outcome := "accepted"
			if len(want) > 0 {
				outcome = "accepted_with_problems"
			}
			if outcomes(t, reg, "aurora", name, outcome) != 1 {
				t.Fatalf("not counted as %s", outcome)
			}
		})
	}
}

// The dev sandbox subscribes lead_changed with &source=<SOURCE> and sends it
// empty: 200, flagged, and the raw event still makes a valid lead record.
func TestEmptySourceOnLeadChangedMakesALead(t *testing.T) {
	const leadID = "f0d1c2b3-0000-4000-8000-000000000001"
	ev, reg := sendOne(t, auroraGet(tenantHeader, "/lead_changed?lead_id="+leadID+"&source="))
	if outcomes(t, reg, "aurora", "lead_changed", "accepted_with_problems") != 1 {
		t.Fatal("not counted as accepted_with_problems")
	}
	back, err := schema.DecodeRecord(ev.Record())
	if err != nil {
		t.Fatal(err)
	}
	d := auroraDataOf(t, back)
	if d.Attributes["lead_id"] != leadID || ev.PartitionKey != schema.AuroraKey(tenantHeader, leadID) {
		t.Fatalf("data %+v key %q", d, ev.PartitionKey)
	}
	body := []byte(`{"id":"` + leadID + `","address":"434 Brannan St, San Francisco, CA, 94107"}`)
	l, err := schema.LeadFromAurora(back, d.TenantID, schema.AuroraWebhookOf(back), body)
	if err != nil {
		t.Fatal(err)
	}
	if l.Key != ev.PartitionKey || l.Source != "" {
		t.Fatalf("lead key %q source %q", l.Key, l.Source)
	}
	b, _ := json.Marshal(l)
	if err := schema.ValidateLead(b); err != nil {
		t.Fatal(err)
	}
}

// lead_converted whose template left out project_id: 200, keyed by the lead.
func TestLeadConvertedWithoutProjectID(t *testing.T) {
	ev, reg := sendOne(t, auroraGet(tenantHeader, "/lead_converted?lead_id=L1"))
	d := auroraDataOf(t, ev)
	if ev.PartitionKey != schema.AuroraKey(tenantHeader, "L1") || len(d.Problems) != 1 || d.Problems[0].Field != "project_id" {
		t.Fatalf("key %q problems %v", ev.PartitionKey, d.Problems)
	}
	if outcomes(t, reg, "aurora", "lead_converted", "accepted_with_problems") != 1 {
		t.Fatal("not counted")
	}
}

// LeadPro with Content-Type text/plain and a valid token: the token is the
// event, so 200, flagged.
func TestLeadProTextPlain(t *testing.T) {
	d := withContentType(leadproPost(t, account, signHS256(t, leadproCreated, signingKey), leadproCreated), "text/plain")
	ev, reg := sendOne(t, d)
	var v struct {
		Event    string
		Problems []schema.Problem
	}
	if err := json.Unmarshal(ev.Data, &v); err != nil {
		t.Fatal(err)
	}
	if v.Event != "lead.created" || len(v.Problems) != 1 || v.Problems[0].Field != "content-type" {
		t.Fatalf("value %s", ev.Data)
	}
	if ev.PartitionKey != schema.LeadProKey(account, "2") {
		t.Fatalf("key %q", ev.PartitionKey)
	}
	if outcomes(t, reg, "leadpro", "lead.created", "accepted_with_problems") != 1 {
		t.Fatal("not counted")
	}
}

// Without a usable id, the key is the tenant's or the account's.
func TestKeyWithoutID(t *testing.T) {
	ev, _ := sendOne(t, auroraGet(tenantHeader, "/lead_created?source=api"))
	if ev.PartitionKey != "aurora:"+tenantHeader || ev.Subject != "" {
		t.Fatalf("aurora key %q subject %q", ev.PartitionKey, ev.Subject)
	}
	ev, _ = sendOne(t, auroraGet(tenantHeader, "/lead_changed?lead_id=L1&x=%zz"))
	if ev.PartitionKey != "aurora:"+tenantHeader || auroraDataOf(t, ev).RawQuery != "lead_id=L1&x=%zz" {
		t.Fatalf("undecodable: key %q data %s", ev.PartitionKey, ev.Data)
	}
	ev, _ = sendOne(t, leadproPost(t, account, signHS256(t, leadproNoDataID, signingKey), ""))
	if ev.PartitionKey != "leadpro:"+account || ev.Subject != "" {
		t.Fatalf("leadpro key %q subject %q", ev.PartitionKey, ev.Subject)
	}
	if ev.Type != schema.LeadProTypePrefix+"lead.created" {
		t.Fatalf("type %q", ev.Type)
	}
	ev, _ = sendOne(t, auroraGet(tenantHeader, "/Bad-Name?lead_id=L1"))
	if ev.Type != schema.AuroraTypePrefix+schema.InvalidEventName || auroraDataOf(t, ev).Event != "Bad-Name" {
		t.Fatalf("type %q data %s", ev.Type, ev.Data)
	}
}

// A flood of invented event names makes at most 50 series plus "other".
func TestUnknownEventSeriesBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, _ := newTestServer(t, &fakePublisher{}, func(c *Config) { c.Metrics = reg })
	for i := range 300 {
		if w := serve(s, auroraGet(tenantHeader, fmt.Sprintf("/invented_%d?lead_id=L1", i))); w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() == "leadbridge_ingest_aurora_unknown_events_total" {
			n = len(mf.GetMetric())
		}
	}
	if n != maxUnknownEventNames+1 {
		t.Fatalf("%d series, want %d", n, maxUnknownEventNames+1)
	}
}

// log.access: errors (the default) logs every rejected request and no
// accepted one; all logs every request. No line is sampled away.
func TestAccessLogPolicy(t *testing.T) {
	const n = 250 // over zap's production sampling threshold of 100 a second
	accepted := auroraGet(tenantHeader, "/lead_changed?lead_id=L1")
	rejected := withHeaderValue(accepted, "X-Aurora-Webhook-Token", "wrong")
	for name, tc := range map[string]struct {
		policy AccessLogPolicy
		d      delivery
		lines  int
	}{
		"errors: rejected":     {"", rejected, n},
		"errors: accepted":     {AccessLogErrors, accepted, 0},
		"all: accepted":        {AccessLogAll, accepted, n},
		"all: rejected":        {AccessLogAll, rejected, n},
		"errors: not found":    {"", delivery{method: http.MethodGet, path: "/webhooks/other"}, n},
		"errors: wrong method": {"", delivery{method: http.MethodPost, path: "/webhooks/aurora/" + tenantHeader + "/lead_changed"}, n},
	} {
		t.Run(name, func(t *testing.T) {
			s, logs := newTestServer(t, &fakePublisher{}, func(c *Config) { c.AccessLog = tc.policy })
			for range n {
				serve(s, tc.d)
			}
			lines := logs.FilterMessage("request")
			if got := lines.Len(); got != tc.lines {
				t.Fatalf("%d request lines, want %d", got, tc.lines)
			}
			for _, l := range lines.All() {
				_, hasID := l.ContextMap()["event_id"]
				if status := l.ContextMap()["status"]; hasID != (status == int64(200)) {
					t.Fatalf("line %v: event_id exactly on accepted requests", l.ContextMap())
				}
			}
		})
	}
	t.Run("errors: slow accepted", func(t *testing.T) {
		pub := &fakePublisher{}
		s, logs := newTestServer(t, pub, func(c *Config) { c.SlowRequest = time.Nanosecond })
		for range 3 {
			serve(s, accepted)
		}
		if got := logs.FilterMessage("request").Len(); got != 3 {
			t.Fatalf("%d request lines for 3 slow requests", got)
		}
	})
}

func withHeaderValue(d delivery, k, v string) delivery {
	d.header = d.header.Clone()
	d.header.Set(k, v)
	return d
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	err := Config{AccessLog: "some", SlowRequest: -1, MaxBodyBytes: -1}.Validate()
	for _, want := range []string{"log.access", "log.slow", "http.max_body_bytes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

// leadpro.max_token_age refuses old and iat-less tokens, 401 like any auth
// failure, and writes nothing; off (0), both are accepted.
func TestLeadProMaxTokenAge(t *testing.T) {
	iat := func(ago time.Duration) string {
		return signHS256(t, `{"event":"lead.created","data":{"id":2},"iat":`+fmt.Sprint(fixedClock.Add(-ago).Unix())+`}`, signingKey)
	}
	noIat := signHS256(t, `{"event":"lead.created","data":{"id":2}}`, signingKey)
	for name, tc := range map[string]struct {
		maxAge time.Duration
		token  string
		status int
	}{
		"off, old":        {0, iat(30 * 24 * time.Hour), 200},
		"off, no iat":     {0, noIat, 200},
		"fresh":           {time.Hour, iat(30 * time.Minute), 200},
		"within leeway":   {time.Hour, iat(time.Hour + 30*time.Second), 200},
		"too old":         {time.Hour, iat(2 * time.Hour), 401},
		"no iat when set": {time.Hour, noIat, 401},
	} {
		t.Run(name, func(t *testing.T) {
			pub := &fakePublisher{}
			s, _ := newTestServer(t, pub, func(c *Config) { c.LeadProMaxTokenAge = tc.maxAge })
			w := serve(s, leadproPost(t, account, tc.token, ""))
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if want := map[int]int{200: 1, 401: 0}[tc.status]; len(pub.Events()) != want {
				t.Fatalf("%d events published, want %d", len(pub.Events()), want)
			}
		})
	}
}
