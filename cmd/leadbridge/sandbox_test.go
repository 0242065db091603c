package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/cmd/wire"
)

var sandboxBase = regexp.MustCompile(`sandbox on (http://127\.0\.0\.1:\d+)`)

// startSandbox runs `leadbridge sandbox aurora` through run() on a free port
// and returns its base URL and printed output. It stops at cleanup and fails
// the test if it does not stop cleanly.
func startSandbox(tb testing.TB, env map[string]string, flags ...string) (base string, out *syncBuffer) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncBuffer{}
	done := make(chan error, 1)
	args := append([]string{"leadbridge", "sandbox", "aurora", "--addr", "127.0.0.1:0"}, flags...)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, out) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("sandbox did not stop cleanly: %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Errorf("sandbox still running 10s after its context ended")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := sandboxBase.FindStringSubmatch(out.String()); m != nil {
			return m[1], out
		}
		select {
		case err := <-done:
			tb.Fatalf("sandbox exited at start: %v\n%s", err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	tb.Fatalf("sandbox printed no base URL:\n%s", out.String())
	return "", nil
}

// sandboxCall makes an API call and decodes the JSON answer into a map.
func sandboxCall(tb testing.TB, method, url, token, body string) (int, map[string]any) {
	tb.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			tb.Fatalf("%s %s: answer is not a JSON object: %s", method, url, raw)
		}
	}
	return resp.StatusCode, m
}

// hookReceiver stands in for leadbridge ingest: it records every webhook and
// answers the first `fail` of them 500.
type hookReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []*http.Request
	fail int
}

func newHookReceiver(tb testing.TB, fail int) *hookReceiver {
	h := &hookReceiver{fail: fail}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.got = append(h.got, r.Clone(context.Background()))
		if len(h.got) <= h.fail {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		w.Write([]byte(`{"id":"x"}`)) //nolint:errcheck
	}))
	tb.Cleanup(h.Close)
	return h
}

// waitFor returns the received webhooks once there are n, or fails.
func (h *hookReceiver) waitFor(tb testing.TB, n int) []*http.Request {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		got := append([]*http.Request(nil), h.got...)
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("the receiver got fewer than %d webhooks in 10s", n)
	return nil
}

func TestSandboxAuroraServesAndFires(t *testing.T) {
	// 1000x compression: the first retry waits 30ms instead of 30s
	base, out := startSandbox(t, nil, "--retry-compression", "1000")
	for _, want := range []string{"any non-empty bearer token", "retried after 30ms, 300ms, 1.8s, 10.8s, 1m12s",
		"curl -sS -X POST '" + base + "/tenants/" + wire.SandboxDemoTenant + "/webhooks'",
		`"url_template":"http://127.0.0.1:8080/webhooks/aurora/` + wire.SandboxDemoTenant + `/lead_created?lead_id=<LEAD_ID>&source=<SOURCE>"`,
		`"header_auth_key":"X-Aurora-Webhook-Token"`, "fires lead_created"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("start message lacks %q:\n%s", want, out.String())
		}
	}

	recv := newHookReceiver(t, 1) // the first delivery fails: Aurora's retry must follow
	api := base + "/tenants/tenant-a"
	status, hook := sandboxCall(t, "POST", api+"/webhooks", "any-token", `{"webhook":{"event":"lead_created",`+
		`"url_template":"`+recv.URL+`/webhooks/aurora/tenant-a/lead_created?lead_id=<LEAD_ID>&source=<SOURCE>",`+
		`"header_auth_key":"X-Aurora-Webhook-Token","header_auth_value":"hook-secret"}}`)
	if status != http.StatusOK {
		t.Fatalf("create webhook: %d %v", status, hook)
	}

	status, created := sandboxCall(t, "POST", api+"/leads", "any-token",
		`{"lead":{"address":"1 Main St, Springfield, IL, 62701","customer":{"customer_first_name":"Ada"}}}`)
	lead, _ := created["lead"].(map[string]any)
	id, _ := lead["id"].(string)
	if status != http.StatusOK || id == "" {
		t.Fatalf("create lead: %d %v", status, created)
	}

	status, got := sandboxCall(t, "GET", api+"/leads/"+id, "another-token", "")
	if status != http.StatusOK || got["id"] != id || got["address"] != "1 Main St, Springfield, IL, 62701" {
		t.Fatalf("retrieve lead: %d %v", status, got)
	}
	if status, _ := sandboxCall(t, "GET", api+"/leads/"+id, "", ""); status != http.StatusUnauthorized {
		t.Fatalf("retrieve lead without a token: %d, want 401", status)
	}

	hooks := recv.waitFor(t, 2)
	for i, r := range hooks {
		if r.Method != http.MethodGet || r.URL.Path != "/webhooks/aurora/tenant-a/lead_created" ||
			r.URL.Query().Get("lead_id") != id || r.URL.Query().Get("source") != "api" ||
			r.Header.Get("X-Aurora-Webhook-Token") != "hook-secret" {
			t.Errorf("webhook %d: %s %s %v", i, r.Method, r.URL, r.Header)
		}
	}
}

func TestSandboxAuroraConfiguredTokens(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "leadbridge.yaml")
	if err := os.WriteFile(cfg, []byte(`
aurora:
  tenants:
    - id: tenant-a
      api_token: "${AURORA_API_TOKEN}"
      webhook_auth: {header: X-Hook, tokens: ["${AURORA_WEBHOOK_TOKEN}"]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AURORA_API_TOKEN": "right-token", "AURORA_WEBHOOK_TOKEN": "hook-token"}
	tests := map[string]struct {
		flags  []string
		tenant string
		token  string
		want   int
	}{
		"configured tenant, its token":          {tenant: "tenant-a", token: "right-token", want: 200},
		"configured tenant, another token":      {tenant: "tenant-a", token: "wrong", want: 401},
		"other tenant refused":                  {tenant: "tenant-b", token: "right-token", want: 401},
		"other tenant with --any-token":         {flags: []string{"--any-token"}, tenant: "tenant-b", token: "whatever", want: 200},
		"configured tenant still strict":        {flags: []string{"--any-token"}, tenant: "tenant-a", token: "whatever", want: 401},
		"configured tenant with --any-token ok": {flags: []string{"--any-token"}, tenant: "tenant-a", token: "right-token", want: 200},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			base, out := startSandbox(t, env, append([]string{"--config", cfg}, tc.flags...)...)
			status, _ := sandboxCall(t, "POST", base+"/tenants/"+tc.tenant+"/leads", tc.token, `{"lead":{}}`)
			if status != tc.want {
				t.Fatalf("create lead: %d, want %d", status, tc.want)
			}
			s := out.String()
			if strings.Contains(s, "right-token") || strings.Contains(s, "hook-token") {
				t.Fatalf("the start message shows a secret:\n%s", s)
			}
			for _, want := range []string{`Bearer $AURORA_API_TOKEN`, `"header_auth_key":"X-Hook"`, `"'"$AURORA_WEBHOOK_TOKEN"'"`, "/tenants/tenant-a/"} {
				if !strings.Contains(s, want) {
					t.Errorf("start message lacks %q:\n%s", want, s)
				}
			}
		})
	}
}

// TestSandboxAuroraPastedCurls runs the printed commands in a shell, as a
// user pasting them would: they must subscribe, create a lead whose webhook
// reaches "ingest", and retrieve it.
func TestSandboxAuroraPastedCurls(t *testing.T) {
	sh, err1 := exec.LookPath("sh")
	_, err2 := exec.LookPath("curl")
	if err1 != nil || err2 != nil {
		t.Skip("needs sh and curl")
	}
	recv := newHookReceiver(t, 0)
	env := map[string]string{"LEADBRIDGE_AURORA_TENANT_ID": "tenant-e", "LEADBRIDGE_AURORA_API_TOKEN": "api-e"}
	_, out := startSandbox(t, env, "--ingest-url", recv.URL)
	cmds := regexp.MustCompile(`(?m)^curl (?:.*\\\n)*.*`).FindAllString(out.String(), -1)
	if len(cmds) != 3 {
		t.Fatalf("want 3 curl commands, got %d:\n%s", len(cmds), out.String())
	}
	shell := func(cmd string) string {
		c := exec.CommandContext(t.Context(), sh, "-c", cmd)
		c.Env = []string{"PATH=" + os.Getenv("PATH"), "LEADBRIDGE_AURORA_API_TOKEN=api-e", "LEADBRIDGE_AURORA_WEBHOOK_TOKEN=hook-e"}
		b, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s\n%v: %s", cmd, err, b)
		}
		return string(b)
	}
	if s := shell(cmds[0]); !strings.Contains(s, `"webhook"`) {
		t.Fatalf("subscribe answered %s", s)
	}
	var created struct{ Lead struct{ ID string } }
	if err := json.Unmarshal([]byte(shell(cmds[1])), &created); err != nil || created.Lead.ID == "" {
		t.Fatalf("create lead answered no id (%v)", err)
	}
	r := recv.waitFor(t, 1)[0]
	if r.URL.Path != "/webhooks/aurora/tenant-e/lead_created" || r.URL.Query().Get("lead_id") != created.Lead.ID ||
		r.Header.Get("X-Aurora-Webhook-Token") != "hook-e" {
		t.Fatalf("webhook: %s %v", r.URL, r.Header)
	}
	if s := shell(strings.ReplaceAll(cmds[2], "<LEAD_ID>", created.Lead.ID)); !strings.Contains(s, created.Lead.ID) {
		t.Fatalf("retrieve answered %s", s)
	}
}

func TestSandboxAuroraUsage(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := map[string]struct {
		args  []string
		usage bool // else: a runtime error (exit 1)
	}{
		"no subcommand":         {args: nil, usage: true},
		"unknown provider":      {args: []string{"leadpro"}, usage: true},
		"compression below 1":   {args: []string{"aurora", "--retry-compression", "0.5"}, usage: true},
		"negative latency":      {args: []string{"aurora", "--latency", "-1s"}, usage: true},
		"no token could pass":   {args: []string{"aurora", "--any-token=false"}, usage: true},
		"bad ingest url":        {args: []string{"aurora", "--ingest-url", "ingest:8080"}, usage: true},
		"stray argument":        {args: []string{"aurora", "extra"}, usage: true},
		"missing config file":   {args: []string{"aurora", "--config", "testdata/no-such.yaml"}, usage: true},
		"address already taken": {args: []string{"aurora", "--addr", busy.Addr().String()}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), append([]string{"leadbridge", "sandbox"}, tc.args...), func(string) string { return "" }, &out)
			_, isUsage := errors.AsType[usageError](err)
			if err == nil || isUsage != tc.usage {
				t.Fatalf("want error (usage %v), got %v", tc.usage, err)
			}
		})
	}
}

func TestSandboxAuroraHelp(t *testing.T) {
	for _, args := range [][]string{{"aurora", "--help"}, {"--help"}} {
		var out bytes.Buffer
		if err := run(t.Context(), append([]string{"leadbridge", "sandbox"}, args...), func(string) string { return "" }, &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		for _, want := range []string{"usage: leadbridge sandbox aurora", "-addr", "-any-token", "-retry-compression", "-latency"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v: help lacks %q", args, want)
			}
		}
	}
}
