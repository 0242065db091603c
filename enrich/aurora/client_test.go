package aurora

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const (
	testToken  = "tok-8c1f0d6e-secret"
	testTenant = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	testLead   = "7b1e0c4a-0000-4000-8000-000000000001"
	leadBody   = `{"id":"7b1e0c4a-0000-4000-8000-000000000001","customer":{"customer_first_name":"Jane"},"latitude":37.77960043}`
)

var fixedNow = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// newTestClient returns a client for srv whose clock is fixedNow and whose
// debug logs are observed.
func newTestClient(tb testing.TB, srv *httptest.Server, hc *http.Client) (*Client, *observer.ObservedLogs) {
	tb.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	if hc == nil {
		hc = srv.Client()
	}
	c := NewClient(srv.URL, hc, zap.New(core))
	c.now = func() time.Time { return fixedNow }
	return c, logs
}

// assertNoSecret fails if the token shows in the error or any log line.
func assertNoSecret(tb testing.TB, err error, logs *observer.ObservedLogs, secrets ...string) {
	tb.Helper()
	for _, s := range secrets {
		if err != nil && strings.Contains(err.Error(), s) {
			tb.Errorf("error %q contains a secret", err)
		}
		for _, e := range logs.All() {
			if strings.Contains(e.Message, s) {
				tb.Errorf("log message %q contains a secret", e.Message)
			}
			for k, v := range e.ContextMap() {
				if strings.Contains(k, s) || strings.Contains(toString(v), s) {
					tb.Errorf("log field %s contains a secret", k)
				}
			}
		}
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func TestRetrieveLeadStatus(t *testing.T) {
	tests := map[string]struct {
		status     int
		header     map[string]string
		body       string
		retryable  bool
		notFound   bool
		auth       bool
		retryAfter time.Duration
	}{
		"200 returns body":       {status: 200, body: leadBody},
		"400 permanent":          {status: 400, body: `{"error":"bad"}`},
		"401 auth":               {status: 401, auth: true},
		"403 auth":               {status: 403, auth: true},
		"404 not found":          {status: 404, notFound: true},
		"408 retryable":          {status: 408, retryable: true},
		"409 permanent":          {status: 409},
		"422 permanent":          {status: 422},
		"429 delta seconds":      {status: 429, header: map[string]string{"Retry-After": "30"}, retryable: true, retryAfter: 30 * time.Second},
		"429 without hint":       {status: 429, retryable: true},
		"500 retryable":          {status: 500, retryable: true},
		"502 retryable":          {status: 502, retryable: true},
		"503 http-date":          {status: 503, header: map[string]string{"Retry-After": fixedNow.Add(2 * time.Minute).Format(http.TimeFormat)}, retryable: true, retryAfter: 2 * time.Minute},
		"504 retryable":          {status: 504, retryable: true},
		"302 without location":   {status: 302},
		"error body not exposed": {status: 500, body: `{"customer_email":"jane@example.com"}`, retryable: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, logs := newTestClient(t, srv, nil)

			body, err := c.RetrieveLead(t.Context(), testTenant, testToken, testLead)

			if tc.status == 200 {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if string(body) != tc.body {
					t.Fatalf("body = %s, want %s", body, tc.body)
				}
				assertNoSecret(t, err, logs, testToken)
				return
			}
			if err == nil {
				t.Fatal("err = nil")
			}
			apiErr, ok := errors.AsType[*APIError](err)
			if !ok || apiErr.Status != tc.status {
				t.Fatalf("err = %v, want *APIError with status %d", err, tc.status)
			}
			if got := IsRetryable(err); got != tc.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, tc.retryable)
			}
			if got := IsNotFound(err); got != tc.notFound {
				t.Errorf("IsNotFound = %v, want %v", got, tc.notFound)
			}
			if got := IsAuth(err); got != tc.auth {
				t.Errorf("IsAuth = %v, want %v", got, tc.auth)
			}
			d, ok := RetryAfter(err)
			if d != tc.retryAfter || ok != (tc.retryAfter > 0) {
				t.Errorf("RetryAfter = %v, %v, want %v", d, ok, tc.retryAfter)
			}
			if !strings.Contains(err.Error(), testLead) || !strings.Contains(err.Error(), testTenant) {
				t.Errorf("error %q does not name the ids", err)
			}
			if tc.body != "" && strings.Contains(err.Error(), tc.body) {
				t.Errorf("error %q echoes the body", err)
			}
			assertNoSecret(t, err, logs, testToken, "jane@example.com")
		})
	}
}

func TestRetrieveLeadRequest(t *testing.T) {
	tests := map[string]struct {
		tenant, lead string
		wantPath     string
	}{
		"plain ids":         {testTenant, testLead, "/api/tenants/" + testTenant + "/leads/" + testLead},
		"slash is escaped":  {"t/1", "l/../2", "/api/tenants/t%2F1/leads/l%2F..%2F2"},
		"space and query":   {"t 1", "a?b=c", "/api/tenants/t%201/leads/a%3Fb=c"},
		"percent and hash":  {"t%1", "a#b", "/api/tenants/t%251/leads/a%23b"},
		"unicode is escped": {"t", "é", "/api/tenants/t/leads/%C3%A9"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got *http.Request
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Clone(context.Background())
				_, _ = w.Write([]byte(leadBody))
			}))
			defer srv.Close()
			c := NewClient(srv.URL+"/api/", srv.Client(), nil)

			if _, err := c.RetrieveLead(t.Context(), tc.tenant, testToken, tc.lead); err != nil {
				t.Fatal(err)
			}
			if got.Method != http.MethodGet {
				t.Errorf("method = %s", got.Method)
			}
			if got.RequestURI != tc.wantPath {
				t.Errorf("request URI = %s, want %s", got.RequestURI, tc.wantPath)
			}
			if a := got.Header.Get("Authorization"); a != "Bearer "+testToken {
				t.Errorf("Authorization = %q", a)
			}
			if a := got.Header.Get("Accept"); a != "application/json" {
				t.Errorf("Accept = %q", a)
			}
		})
	}
}

func TestRetrieveLeadBody(t *testing.T) {
	// A JSON object of exactly n bytes.
	objectOf := func(n int) string {
		const head, tail = `{"pad":"`, `"}`
		return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
	}
	tests := map[string]struct {
		body      string
		wantErr   error
		retryable bool
	}{
		"at the limit":       {body: objectOf(MaxBodyBytes)},
		"one byte over":      {body: objectOf(MaxBodyBytes + 1), wantErr: ErrBodyTooLarge},
		"far over":           {body: objectOf(8 * MaxBodyBytes), wantErr: ErrBodyTooLarge},
		"html page":          {body: "<html>maintenance</html>", wantErr: ErrMalformedBody, retryable: true},
		"empty":              {body: "", wantErr: ErrMalformedBody, retryable: true},
		"null":               {body: "null", wantErr: ErrMalformedBody, retryable: true},
		"truncated object":   {body: `{"id":"x"`, wantErr: ErrMalformedBody, retryable: true},
		"leading whitespace": {body: "\n " + leadBody},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, logs := newTestClient(t, srv, nil)

			body, err := c.RetrieveLead(t.Context(), testTenant, testToken, testLead)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && len(body) != len(tc.body) {
				t.Fatalf("body has %d bytes, want %d", len(body), len(tc.body))
			}
			if err != nil && IsRetryable(err) != tc.retryable {
				t.Errorf("IsRetryable = %v, want %v", IsRetryable(err), tc.retryable)
			}
			if err != nil && len(err.Error()) > 300 {
				t.Errorf("error is %d bytes long; it must not carry the body", len(err.Error()))
			}
			assertNoSecret(t, err, logs, testToken)
		})
	}
}

func TestRetrieveLeadTransportErrors(t *testing.T) {
	slow := func() *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}))
	}
	tests := map[string]struct {
		call      func(t *testing.T) error
		retryable bool
	}{
		"client timeout": {retryable: true, call: func(t *testing.T) error {
			srv := slow()
			defer srv.Close()
			c := NewClient(srv.URL, &http.Client{Timeout: 50 * time.Millisecond}, nil)
			_, err := c.RetrieveLead(t.Context(), testTenant, testToken, testLead)
			return err
		}},
		"context deadline": {retryable: true, call: func(t *testing.T) error {
			srv := slow()
			defer srv.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			_, err := NewClient(srv.URL, nil, nil).RetrieveLead(ctx, testTenant, testToken, testLead)
			return err
		}},
		"context canceled": {retryable: false, call: func(t *testing.T) error {
			srv := slow()
			defer srv.Close()
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(50*time.Millisecond, cancel)
			_, err := NewClient(srv.URL, nil, nil).RetrieveLead(ctx, testTenant, testToken, testLead)
			return err
		}},
		"connection refused": {retryable: true, call: func(t *testing.T) error {
			srv := httptest.NewServer(http.NotFoundHandler())
			url := srv.URL
			srv.Close()
			_, err := NewClient(url, nil, nil).RetrieveLead(t.Context(), testTenant, testToken, testLead)
			return err
		}},
		"connection cut mid-body": {retryable: true, call: func(t *testing.T) error {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "1000")
				_, _ = w.Write([]byte(`{"id":`))
			}))
			defer srv.Close()
			_, err := NewClient(srv.URL, nil, nil).RetrieveLead(t.Context(), testTenant, testToken, testLead)
			return err
		}},
		// The error names the call's route: not a redirect target's query
		// (a signed URL's key) nor the base URL's user info.
		"redirected to a dead URL with a query": {retryable: true, call: func(t *testing.T) error {
			dead := httptest.NewServer(http.NotFoundHandler())
			deadURL := dead.URL
			dead.Close()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, deadURL+"/signed?signature=sig-topsecret", http.StatusFound)
			}))
			defer srv.Close()
			base := strings.Replace(srv.URL, "http://", "http://user-topsecret@", 1)
			_, err := NewClient(base, nil, nil).RetrieveLead(t.Context(), testTenant, testToken, testLead)
			for _, s := range []string{"topsecret", "signature="} {
				if err != nil && strings.Contains(err.Error(), s) {
					t.Errorf("error %q carries %q", err, s)
				}
			}
			return err
		}},
		"user info in the base URL": {retryable: true, call: func(t *testing.T) error {
			srv := httptest.NewServer(http.NotFoundHandler())
			base := strings.Replace(srv.URL, "http://", "http://user-topsecret@", 1)
			srv.Close()
			_, err := NewClient(base, nil, nil).RetrieveLead(t.Context(), testTenant, testToken, testLead)
			if err != nil && strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error %q carries the base URL's user info", err)
			}
			return err
		}},
		"token not a valid header value": {retryable: false, call: func(t *testing.T) error {
			srv := httptest.NewServer(http.NotFoundHandler())
			defer srv.Close()
			_, err := NewClient(srv.URL, nil, nil).RetrieveLead(t.Context(), testTenant, testToken+"\n", testLead)
			return err
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.call(t)
			if err == nil {
				t.Fatal("err = nil")
			}
			if got := IsRetryable(err); got != tc.retryable {
				t.Errorf("IsRetryable(%v) = %v, want %v", err, got, tc.retryable)
			}
			if IsAuth(err) || IsNotFound(err) {
				t.Errorf("transport error %v classified as an API answer", err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

func TestRetrieveLeadInvalidRequest(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++ }))
	defer srv.Close()
	tests := map[string]struct {
		base, tenant, token, lead string
	}{
		"empty tenant":    {srv.URL, "", testToken, testLead},
		"empty lead":      {srv.URL, testTenant, testToken, ""},
		"empty token":     {srv.URL, testTenant, "", testLead},
		"relative base":   {"api.aurorasolar.com", testTenant, testToken, testLead},
		"ftp base":        {"ftp://api.aurorasolar.com", testTenant, testToken, testLead},
		"unparsable base": {"http://user:" + testToken + "@[::1", testTenant, testToken, testLead},
		"empty base":      {"", testTenant, testToken, testLead},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewClient(tc.base, nil, nil).RetrieveLead(t.Context(), tc.tenant, tc.token, tc.lead)
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("err = %v, want ErrInvalidRequest", err)
			}
			if IsRetryable(err) {
				t.Error("invalid request is retryable")
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
	if calls != 0 {
		t.Fatalf("%d requests sent for invalid input", calls)
	}
}

func TestParseRetryAfter(t *testing.T) {
	tests := map[string]struct {
		in   string
		want time.Duration
	}{
		"empty":            {"", 0},
		"delta seconds":    {"120", 2 * time.Minute},
		"padded":           {" 5 ", 5 * time.Second},
		"zero":             {"0", 0},
		"negative":         {"-5", 0},
		"fraction":         {"1.5", 0},
		"garbage":          {"soon", 0},
		"huge":             {"99999999999999999", time.Duration(1<<63 - 1)},
		"IMF-fixdate":      {"Sun, 22 Nov 2026 10:01:30 GMT", 90 * time.Second},
		"RFC 850 date":     {"Sunday, 22-Nov-26 10:00:10 GMT", 10 * time.Second},
		"asctime date":     {"Sun Nov 22 10:00:03 2026", 3 * time.Second},
		"date in the past": {"Sun, 22 Nov 2026 09:59:00 GMT", 0},
		"date now":         {"Sun, 22 Nov 2026 10:00:00 GMT", 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := parseRetryAfter(tc.in, fixedNow); got != tc.want {
				t.Fatalf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestErrorHelpersOnOtherErrors(t *testing.T) {
	tests := map[string]error{
		"nil":     nil,
		"plain":   errors.New("something"),
		"api 404": &APIError{Status: 404},
	}
	for name, err := range tests {
		t.Run(name, func(t *testing.T) {
			if IsAuth(err) {
				t.Error("IsAuth = true")
			}
			if _, ok := RetryAfter(err); ok {
				t.Error("RetryAfter ok = true")
			}
			if err == nil && (IsRetryable(err) || IsNotFound(err)) {
				t.Error("nil error classified")
			}
		})
	}
}
