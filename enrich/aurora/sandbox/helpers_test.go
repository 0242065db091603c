package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const (
	tenant  = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	token   = "tok-tenant-1-secret"
	tenant2 = "9b2c0000-0000-4000-8000-000000000002"
	token2  = "tok-tenant-2-secret"
)

// tutorialLead is the lead of Aurora's Retrieve Leads tutorial, without the
// server's fields.
func tutorialLead() map[string]any {
	return map[string]any{
		"address":    "434 Brannan St, San Francisco, CA, 94107",
		"project_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
		"latitude":   json.Number("37.77960043"),
		"longitude":  json.Number("-122.39530086"),
		"customer": map[string]any{
			"customer_address":    "434 Brannan St, San Francisco, CA, USA",
			"customer_email":      "jane.doe@example.com",
			"customer_first_name": "Jane",
			"customer_last_name":  "Doe",
			"customer_phone":      "(555) 111-5151",
		},
		"monthly_average_bill":    json.Number("0"),
		"system_size_stc":         json.Number("0"),
		"annual_production":       json.Number("0"),
		"module_count":            json.Number("0"),
		"sunlight_hours":          json.Number("0"),
		"pct_utility_bill_offset": json.Number("0"),
	}
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// start serves a sandbox with opts (tokens for tenant and tenant2 unless
// opts sets some) and returns it with its base URL and observed logs.
func start(tb testing.TB, opts sandbox.Options) (*sandbox.Server, string, *observer.ObservedLogs) {
	tb.Helper()
	if opts.Tokens == nil {
		opts.Tokens = map[string]string{tenant: token, tenant2: token2}
	}
	core, logs := observer.New(zapcore.DebugLevel)
	if opts.Logger == nil {
		opts.Logger = zap.New(core)
	}
	s := sandbox.New(opts)
	ts := httptest.NewServer(s.Handler())
	tb.Cleanup(ts.Close)
	tb.Cleanup(s.Close) // runs first: deliveries stop before the server goes
	return s, ts.URL, logs
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// call makes one request; body may be nil, a string (sent as is) or a value
// encoded as JSON.
func call(tb testing.TB, method, url, tok string, body any) response {
	tb.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		tb.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// decode unmarshals a response body, numbers as json.Number.
func decode(tb testing.TB, b []byte) map[string]any {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		tb.Fatalf("decode %q: %v", b, err)
	}
	return m
}

func leadURL(base, tenantID, id string) string {
	return base + "/tenants/" + tenantID + "/leads/" + id
}

// assertCleanLogs fails if any log line or field holds one of the strings.
func assertCleanLogs(tb testing.TB, logs *observer.ObservedLogs, forbidden ...string) {
	tb.Helper()
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			b, _ := json.Marshal(v)
			line += " " + k + "=" + string(b)
		}
		for _, f := range forbidden {
			if strings.Contains(line, f) {
				tb.Errorf("log line %q contains %q", line, f)
			}
		}
	}
}
