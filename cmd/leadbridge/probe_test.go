package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusNoContent)
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		default:
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()

	tests := map[string]struct {
		args    []string
		usage   bool   // a usage error (exit 2)
		errText string // "" means success; else the error contains it
	}{
		"2xx":                 {args: []string{srv.URL + "/ok"}},
		"flag after the URL":  {args: []string{srv.URL + "/ok", "--timeout", "2s"}},
		"503 fails":           {args: []string{srv.URL + "/readyz"}, errText: "503 Service Unavailable"},
		"redirect fails":      {args: []string{srv.URL + "/redirect"}, errText: "302 Found"},
		"timeout":             {args: []string{"--timeout", "100ms", srv.URL + "/slow"}, errText: "no answer within 100ms"},
		"query is not shown":  {args: []string{srv.URL + "/readyz?token=s3cret"}, errText: "503"},
		"refused":             {args: []string{"http://127.0.0.1:1/"}, errText: "connection refused"},
		"no URL":              {args: nil, usage: true},
		"two URLs":            {args: []string{srv.URL, srv.URL}, usage: true},
		"not http":            {args: []string{"ftp://example.com/"}, usage: true},
		"zero timeout":        {args: []string{"--timeout", "0s", srv.URL}, usage: true},
		"relative URL":        {args: []string{"/readyz"}, usage: true},
		"unknown flag":        {args: []string{"--insecure", srv.URL}, usage: true},
		"help is not a probe": {args: []string{"--help"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), append([]string{"leadbridge", "probe"}, tc.args...), func(string) string { return "" }, &out)
			_, isUsage := errors.AsType[usageError](err)
			switch {
			case tc.usage:
				if !isUsage {
					t.Fatalf("want a usage error, got %v", err)
				}
			case tc.errText == "":
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
			default:
				if err == nil || isUsage || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("want an error with %q (exit 1), got %v", tc.errText, err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("the error shows the query: %v", err)
				}
			}
		})
	}
}
