package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/leadbridge/leadbridge/ingest"
	"github.com/leadbridge/leadbridge/ingest/ingesttest"
	"github.com/leadbridge/leadbridge/ingest/simulate"
	"github.com/leadbridge/leadbridge/schema"
)

const (
	simTenantHeader = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	simTenantBasic  = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	simAccount      = "9999"
	simToken        = "2dbcbba1-9f64-4c07-86dc-02effcbeafa6"
	simUser         = "bridge"
	simPassword     = "Powering the future 0f solar together!"
	simSecret       = "leadpro-signing-secret-0123456789abcdef"
)

// simConfig is the YAML twin of the ingest configuration newSimIngest serves.
const simConfig = `aurora:
  tenants:
    - id: "` + simTenantHeader + `"
      webhook_auth: {header: X-Aurora-Webhook-Token, tokens: ["${TOKEN}"]}
    - id: "` + simTenantBasic + `"
      webhook_auth: {basic: {username: ` + simUser + `, passwords: ["${PASSWORD}"]}}
leadpro:
  accounts:
    - id: "` + simAccount + `"
      signing_secrets: ["${SECRET}"]
`

var simConfigEnv = map[string]string{"TOKEN": simToken, "PASSWORD": simPassword, "SECRET": simSecret}

type fakePublisher = ingesttest.Publisher

// newSimIngest serves a real ingest.Server, publishing to a fake.
func newSimIngest(tb testing.TB) (*httptest.Server, *fakePublisher) {
	tb.Helper()
	pub := &fakePublisher{}
	cfg := ingest.Config{
		Aurora: []ingest.AuroraTenant{
			{ID: simTenantHeader, Header: "X-Aurora-Webhook-Token", Tokens: []schema.Secret{simToken}},
			{ID: simTenantBasic, Username: simUser, Passwords: []schema.Secret{simPassword}},
		},
		LeadPro: []ingest.LeadProAccount{{ID: simAccount, SigningSecrets: []schema.Secret{simSecret}}},
	}
	srv := httptest.NewServer(ingest.NewServer(cfg, pub, zaptest.NewLogger(tb)).Handler())
	tb.Cleanup(srv.Close)
	return srv, pub
}

func runSim(tb testing.TB, env map[string]string, args ...string) (string, error) {
	tb.Helper()
	var out bytes.Buffer
	err := run(tb.Context(), append([]string{"leadbridge", "simulate"}, args...), envOf(env), &out)
	return out.String(), err
}

func TestSimulateOne(t *testing.T) {
	cfgPath := writeFile(t, "leadbridge.yaml", simConfig)
	tests := map[string]struct {
		args     []string
		env      map[string]string
		wantType string
		wantSrc  string
		check    func(t *testing.T, ev schema.Event)
	}{
		"aurora header token from flags": {
			args:     []string{"--tenant", simTenantHeader, "--token", simToken},
			wantType: "com.aurorasolar.webhook.lead_created", wantSrc: "/aurora/tenants/" + simTenantHeader,
		},
		"aurora header token from env": {
			args: []string{"--tenant", simTenantHeader}, env: map[string]string{simulate.EnvToken: simToken},
			wantType: "com.aurorasolar.webhook.lead_created", wantSrc: "/aurora/tenants/" + simTenantHeader,
		},
		"aurora basic auth from flags": {
			args:     []string{"--tenant", simTenantBasic, "--basic-user", simUser, "--basic-pass", simPassword},
			wantType: "com.aurorasolar.webhook.lead_created", wantSrc: "/aurora/tenants/" + simTenantBasic,
		},
		"aurora basic password from env": {
			args: []string{"--tenant", simTenantBasic, "--basic-user", simUser}, env: map[string]string{simulate.EnvPassword: simPassword},
			wantType: "com.aurorasolar.webhook.lead_created", wantSrc: "/aurora/tenants/" + simTenantBasic,
		},
		"aurora header token from config, first tenant": {
			args: []string{"--config", cfgPath}, env: simConfigEnv,
			wantType: "com.aurorasolar.webhook.lead_created", wantSrc: "/aurora/tenants/" + simTenantHeader,
		},
		"aurora basic auth from config": {
			args: []string{"--config", cfgPath, "--tenant", simTenantBasic}, env: simConfigEnv,
			wantType: "com.aurorasolar.webhook.lead_created", wantSrc: "/aurora/tenants/" + simTenantBasic,
		},
		"aurora config from LEADBRIDGE_CONFIG": {
			env:      map[string]string{"LEADBRIDGE_CONFIG": cfgPath, "TOKEN": simToken, "PASSWORD": simPassword, "SECRET": simSecret},
			wantType: "com.aurorasolar.webhook.lead_created", wantSrc: "/aurora/tenants/" + simTenantHeader,
		},
		"aurora env-only configuration": {
			env:      map[string]string{"LEADBRIDGE_AURORA_TENANT_ID": simTenantHeader, "LEADBRIDGE_AURORA_WEBHOOK_TOKEN": simToken},
			wantType: "com.aurorasolar.webhook.lead_created", wantSrc: "/aurora/tenants/" + simTenantHeader,
		},
		"aurora static path style, other event, attributes": {
			args: []string{"--config", cfgPath, "--path-style", "static", "--event", "design_created",
				"--attr", "source=expert_design_service", "--attr", "project_id=p-1"},
			env:      simConfigEnv,
			wantType: "com.aurorasolar.webhook.design_created", wantSrc: "/aurora/tenants/" + simTenantHeader,
			check: func(t *testing.T, ev schema.Event) {
				if ev.Subject != "p-1" || !bytes.Contains(ev.Data, []byte(`"source":"expert_design_service"`)) ||
					!regexp.MustCompile(`"design_id":"[0-9a-f-]{36}"`).Match(ev.Data) {
					t.Errorf("attributes not as given and generated: subject %q, data %s", ev.Subject, ev.Data)
				}
			},
		},
		"leadpro from flags": {
			args:     []string{"--provider", "leadpro", "--account", simAccount, "--secret", simSecret},
			wantType: "pro.lead.webhook.lead.created", wantSrc: "/leadpro/accounts/" + simAccount,
			check: checkLeadProPayload,
		},
		"leadpro secret from env, lead.updated, data field": {
			args: []string{"--provider", "leadpro", "--account", simAccount, "--event", "lead.updated", "--attr", "postcode=SW1A 1AA"},
			env:  map[string]string{simulate.EnvSecret: simSecret}, wantType: "pro.lead.webhook.lead.updated", wantSrc: "/leadpro/accounts/" + simAccount,
			check: func(t *testing.T, ev schema.Event) {
				checkLeadProPayload(t, ev)
				if !bytes.Contains(ev.Data, []byte(`"postcode":"SW1A 1AA"`)) {
					t.Errorf("--attr did not set the data field: %s", ev.Data)
				}
			},
		},
		"leadpro from config": {
			args: []string{"--provider", "leadpro", "--config", cfgPath}, env: simConfigEnv,
			wantType: "pro.lead.webhook.lead.created", wantSrc: "/leadpro/accounts/" + simAccount,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv, pub := newSimIngest(t)
			out, err := runSim(t, tt.env, append([]string{"--url", srv.URL}, tt.args...)...)
			if err != nil {
				t.Fatalf("simulate: %v\n%s", err, out)
			}
			if !strings.Contains(out, "\n200 OK\n{\"id\":") {
				t.Fatalf("output does not show the 200 and its body:\n%s", out)
			}
			evs := pub.Events()
			if len(evs) != 1 {
				t.Fatalf("%d events published, want 1", len(evs))
			}
			if evs[0].Type != tt.wantType || evs[0].Source != tt.wantSrc {
				t.Errorf("event %s from %s, want %s from %s", evs[0].Type, evs[0].Source, tt.wantType, tt.wantSrc)
			}
			if tt.check != nil {
				tt.check(t, evs[0])
			}
			for _, s := range []string{simToken, simPassword, simSecret} {
				if strings.Contains(out, s) {
					t.Errorf("the output shows a secret:\n%s", out)
				}
			}
		})
	}
}

// checkLeadProPayload: the published payload is a realistic lead, with the
// phone a string and iat about now.
func checkLeadProPayload(t *testing.T, ev schema.Event) {
	t.Helper()
	for _, re := range []string{`"first_name":"[A-Z][a-z]+"`, `"email":"[a-z.]+\+\d+@example\.com"`, `"phone":"07700 900\d{3}"`,
		`"type":"vendor"`, `"address":"[^"]+"`, `"postcode":"[A-Z0-9 ]+"`, `"id":\d+`} {
		if !regexp.MustCompile(re).Match(ev.Data) {
			t.Errorf("payload lacks %s: %s", re, ev.Data)
		}
	}
	m := regexp.MustCompile(`"iat":(\d+)`).FindSubmatch(ev.Data)
	if m == nil {
		t.Fatalf("payload has no iat: %s", ev.Data)
	}
	iat, _ := strconv.ParseInt(string(m[1]), 10, 64)
	if d := time.Since(time.Unix(iat, 0)); d < -time.Second || d > time.Minute {
		t.Errorf("iat is %v away from now", d)
	}
}

// summaryCounts parses the "  <code> <text>: <count>" lines of a summary.
func summaryCounts(tb testing.TB, out string) (total int, byCode map[int]int) {
	tb.Helper()
	byCode = map[int]int{}
	for _, m := range regexp.MustCompile(`(?m)^  (\d{3}) [^:]*: (\d+)$`).FindAllStringSubmatch(out, -1) {
		code, _ := strconv.Atoi(m[1])
		c, _ := strconv.Atoi(m[2])
		byCode[code] += c
		total += c
	}
	head := regexp.MustCompile(`(?m)^(\d+) \S+ \S+ deliveries to \S+ in [0-9.]+s: [0-9.]+ req/s \(concurrency \d+, rate \S+\)$`).FindStringSubmatch(out)
	if head == nil {
		tb.Fatalf("no summary line in:\n%s", out)
	}
	if sent, _ := strconv.Atoi(head[1]); sent != total {
		tb.Errorf("summary says %d deliveries, its status lines add up to %d:\n%s", sent, total, out)
	}
	if !regexp.MustCompile(`(?m)^latency p50 [0-9.]+ms  p90 [0-9.]+ms  p99 [0-9.]+ms  max [0-9.]+ms$`).MatchString(out) {
		tb.Errorf("no latency line in:\n%s", out)
	}
	return total, byCode
}

func TestSimulateLoad(t *testing.T) {
	tests := map[string]struct {
		args     []string
		leads    int // distinct subjects published
		wantCode int
	}{
		"aurora, a lead per delivery":  {args: []string{"--tenant", simTenantHeader, "--token", simToken}, leads: 50, wantCode: 200},
		"aurora, same lead":            {args: []string{"--tenant", simTenantHeader, "--token", simToken, "--same-lead"}, leads: 1, wantCode: 200},
		"aurora basic, rate limited":   {args: []string{"--tenant", simTenantBasic, "--basic-user", simUser, "--basic-pass", simPassword, "--rate", "1000/s"}, leads: 50, wantCode: 200},
		"leadpro, a lead per delivery": {args: []string{"--provider", "leadpro", "--account", simAccount, "--secret", simSecret}, leads: 50, wantCode: 200},
		"leadpro, same lead":           {args: []string{"--provider", "leadpro", "--account", simAccount, "--secret", simSecret, "--same-lead"}, leads: 1, wantCode: 200},
		"leadpro, wrong secret":        {args: []string{"--provider", "leadpro", "--account", simAccount, "--secret", "not-the-secret"}, wantCode: 401},
		"aurora, wrong token":          {args: []string{"--tenant", simTenantHeader, "--token", "not-the-token"}, wantCode: 401},
		"aurora, wrong basic password": {args: []string{"--tenant", simTenantBasic, "--basic-user", simUser, "--basic-pass", "nope"}, wantCode: 401},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv, pub := newSimIngest(t)
			out, err := runSim(t, nil, append([]string{"--url", srv.URL, "-n", "50", "--concurrency", "5"}, tt.args...)...)
			total, byCode := summaryCounts(t, out)
			if total != 50 || byCode[tt.wantCode] != 50 {
				t.Fatalf("want 50 answers %d, got %v:\n%s", tt.wantCode, byCode, out)
			}
			if tt.wantCode != 200 {
				var u usageError
				if err == nil || errors.As(err, &u) {
					t.Fatalf("want a plain error (exit 1) for refused deliveries, got %v", err)
				}
				if n := len(pub.Events()); n != 0 {
					t.Fatalf("%d events published from refused deliveries", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("simulate: %v\n%s", err, out)
			}
			subjects := map[string]bool{}
			for _, ev := range pub.Events() {
				subjects[ev.Subject] = true
			}
			if len(pub.Events()) != 50 || len(subjects) != tt.leads {
				t.Fatalf("%d events about %d leads, want 50 about %d", len(pub.Events()), len(subjects), tt.leads)
			}
		})
	}
}

// A 503 from ingest (no broker ack) is counted under its status, not lost.
func TestSimulateLoadUnavailable(t *testing.T) {
	srv, pub := newSimIngest(t)
	var calls sync.Mutex
	n := 0
	pub.PublishFn = func(context.Context, schema.Event) error {
		calls.Lock()
		defer calls.Unlock()
		n++
		if n%2 == 0 {
			return ingest.ErrOverloaded
		}
		return nil
	}
	out, err := runSim(t, nil, "--url", srv.URL, "-n", "20", "--tenant", simTenantHeader, "--token", simToken)
	if err == nil || !strings.Contains(err.Error(), "10 of 20") {
		t.Fatalf("want 10 of 20 not answered 200, got %v", err)
	}
	if _, byCode := summaryCounts(t, out); byCode[200] != 10 || byCode[503] != 10 {
		t.Fatalf("want 10 × 200 and 10 × 503, got %v:\n%s", byCode, out)
	}
}

func TestSimulateNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	out, err := runSim(t, nil, "--url", url, "-n", "3", "--tenant", "t", "--token", "x")
	if err == nil || !strings.Contains(out, "no answer: 3 (first: ") {
		t.Fatalf("want 3 unanswered deliveries reported, got %v:\n%s", err, out)
	}
}

func TestSimulateUsage(t *testing.T) {
	cfgPath := writeFile(t, "leadbridge.yaml", simConfig)
	auth := []string{"--tenant", "t", "--token", "x"}
	tests := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"unknown flag":          {args: []string{"--nope"}, want: "nope"},
		"argument":              {args: append([]string{"extra"}, auth...), want: "unexpected argument"},
		"provider":              {args: append([]string{"--provider", "hubspot"}, auth...), want: "--provider"},
		"path style":            {args: append([]string{"--path-style", "query"}, auth...), want: "--path-style"},
		"attr without =":        {args: append([]string{"--attr", "lead_id"}, auth...), want: "key=value"},
		"n zero":                {args: append([]string{"-n", "0"}, auth...), want: "-n"},
		"concurrency zero":      {args: append([]string{"--concurrency", "0"}, auth...), want: "--concurrency"},
		"rate":                  {args: append([]string{"--rate", "fast"}, auth...), want: "rate"},
		"negative rate":         {args: append([]string{"--rate", "-1"}, auth...), want: "rate"},
		"url":                   {args: append([]string{"--url", "localhost:8080"}, auth...), want: "--url"},
		"aurora event name":     {args: append([]string{"--event", "Lead-Created"}, auth...), want: "--event"},
		"leadpro event":         {args: []string{"--provider", "leadpro", "--account", "1", "--secret", "s", "--event", "lead.deleted"}, want: "lead.created"},
		"leadpro id not number": {args: []string{"--provider", "leadpro", "--account", "1", "--secret", "s", "--attr", "id=abc"}, want: "number"},
		"no aurora credentials": {args: []string{"--tenant", "t"}, want: "credentials"},
		"no tenant":             {args: []string{"--token", "x"}, want: "--tenant"},
		"no leadpro secret":     {args: []string{"--provider", "leadpro", "--account", "1"}, want: "secret"},
		"no leadpro account":    {args: []string{"--provider", "leadpro", "--secret", "s"}, want: "--account"},
		"basic user, no pass":   {args: []string{"--tenant", "t", "--basic-user", "u"}, want: "password"},
		"config missing":        {args: []string{"--config", "/nonexistent/leadbridge.yaml"}, want: "configuration"},
		"config variable unset": {args: []string{"--config", cfgPath}, want: "TOKEN"},
		"tenant not configured": {args: []string{"--config", cfgPath, "--tenant", "other"}, env: simConfigEnv, want: "not in the configuration"},
		"account not configured": {args: []string{"--config", cfgPath, "--provider", "leadpro", "--account", "1"}, env: simConfigEnv,
			want: "not in the configuration"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := runSim(t, tt.env, tt.args...)
			var u usageError
			if !errors.As(err, &u) {
				t.Fatalf("want a usage error (exit 2), got %v\n%s", err, out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
			if strings.Contains(oneLine(err), simToken) || strings.Contains(oneLine(err), simSecret) {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

func TestSimulateHelp(t *testing.T) {
	out, err := runSim(t, map[string]string{simulate.EnvToken: "env-token-value", simulate.EnvSecret: "env-secret-value"}, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-provider", "-attr", "-same-lead", "-path-style", "-rate", "-concurrency", "LEADBRIDGE_SIM_TOKEN"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %s", want)
		}
	}
	if strings.Contains(out, "env-token-value") || strings.Contains(out, "env-secret-value") {
		t.Errorf("--help shows a secret from the environment:\n%s", out)
	}
}

// Every event simulate sends carries every attribute Aurora documents for
// it, with a documented value, so ingest flags no problem: a new user's
// first simulated lead_created used to land on raw flagged "source:
// missing". --attr still wins over the filled value.
func TestSimulateFillsEveryDocumentedAttribute(t *testing.T) {
	send := func(t *testing.T, args ...string) schema.AuroraData {
		t.Helper()
		srv, pub := newSimIngest(t)
		out, err := runSim(t, nil, append([]string{"--url", srv.URL, "--tenant", simTenantHeader, "--token", simToken}, args...)...)
		if err != nil {
			t.Fatalf("simulate %v: %v\n%s", args, err, out)
		}
		evs := pub.Events()
		if len(evs) != 1 {
			t.Fatalf("%d events published, want 1", len(evs))
		}
		var d schema.AuroraData
		if err := json.Unmarshal(evs[0].Data, &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	t.Run("default event", func(t *testing.T) {
		d := send(t)
		if d.Event != "lead_created" || len(d.Problems) > 0 {
			t.Fatalf("event %s with problems %v, want lead_created with none", d.Event, d.Problems)
		}
		if s := d.Attributes["source"]; s != "lcai" && s != "api" {
			t.Errorf("source %q, want lcai or api", s)
		}
	})
	t.Run("--attr wins", func(t *testing.T) {
		if d := send(t, "--attr", "source=api", "--attr", "lead_id=L1"); d.Attributes["source"] != "api" || d.Attributes["lead_id"] != "L1" || len(d.Problems) > 0 {
			t.Errorf("attributes %v, problems %v", d.Attributes, d.Problems)
		}
	})
	for _, name := range schema.AuroraEventNames() {
		t.Run(name, func(t *testing.T) {
			d := send(t, "--event", name)
			if len(d.Problems) > 0 {
				t.Errorf("problems %v", d.Problems)
			}
			ev, _ := schema.AuroraEventNamed(name)
			for a := range ev.Attributes() {
				if d.Attributes[a] == "" {
					t.Errorf("attribute %s is not filled: %v", a, d.Attributes)
				}
			}
		})
	}
}
