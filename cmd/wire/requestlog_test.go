package wire

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/leadbridge/leadbridge/ingest"
	"github.com/leadbridge/leadbridge/ingest/ingesttest"
	"github.com/leadbridge/leadbridge/schema"
)

// The production logger writes every request line ingest asks for: zap's
// preset sampling (every 100th line after 100 a second) once kept 1,425
// lines for 11,750 requests. N rejected requests give N lines under
// log.access: errors, and N accepted ones give N lines under all, even when
// they come far faster than 100 a second.
func TestRequestLogKeepsEveryLine(t *testing.T) {
	const n = 1000
	for name, tc := range map[string]struct {
		policy ingest.AccessLogPolicy
		token  string
		status int
	}{
		"errors: rejected": {ingest.AccessLogErrors, "wrong", http.StatusUnauthorized},
		"all: accepted":    {ingest.AccessLogAll, "right", http.StatusOK},
	} {
		t.Run(name, func(t *testing.T) {
			zc, err := loggerConfig("info")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "log")
			zc.OutputPaths = []string{path}
			logger, err := zc.Build()
			if err != nil {
				t.Fatal(err)
			}
			srv := ingest.NewServer(ingest.Config{
				Aurora:    []ingest.AuroraTenant{{ID: "t1", Header: "X-Token", Tokens: []schema.Secret{"right"}}},
				AccessLog: tc.policy,
			}, &ingesttest.Publisher{}, logger)
			for range n {
				r := httptest.NewRequest(http.MethodGet, "/webhooks/aurora/t1/lead_changed?lead_id=L1", nil)
				r.Header.Set("X-Token", tc.token)
				w := httptest.NewRecorder()
				srv.Handler().ServeHTTP(w, r)
				if w.Code != tc.status {
					t.Fatalf("status %d, want %d", w.Code, tc.status)
				}
			}
			_ = logger.Sync()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Count(b, []byte(`"msg":"request"`)); got != n {
				t.Fatalf("%d request lines for %d requests", got, n)
			}
		})
	}
}
