package wire

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/schema"
)

// ingestConfig is a valid ingest configuration on broker b with a raw topic
// of its own.
func ingestConfig(t *testing.T, b kafkatest.Broker) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Kafka.Brokers = b.Seeds
	cfg.Topics.Raw = kafkatest.Topic(t, b, "wire-raw", 1, nil)
	cfg.LeadPro.Accounts = []config.Account{{ID: "1", SigningSecrets: []schema.Secret{"s"}}}
	return cfg
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startIngest runs Ingest until the test ends; it must return nil.
func startIngest(t *testing.T, cfg config.Config, lns IngestListeners, logger *zap.Logger) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Ingest(ctx, cfg, lns, logger) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v", err)
		}
	})
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitStatus polls url until it answers want (readiness needs the broker).
func waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := get(t, url); code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %d", url, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Issue 11.3: with http.admin_addr, /metrics leaves the webhook port for the
// admin port; /healthz and /readyz answer on both. Without it, all three
// answer on the webhook port, as before.
func TestIngestAdminAddr(t *testing.T) {
	b := kafkatest.Find(t)
	cfg := ingestConfig(t, b)
	pub, adm := listen(t), listen(t)
	startIngest(t, cfg, IngestListeners{Public: pub, Admin: adm}, zap.NewNop())
	p, a := "http://"+pub.Addr().String(), "http://"+adm.Addr().String()
	waitStatus(t, p+"/readyz", 200)
	for _, url := range []string{p + "/healthz", a + "/healthz", a + "/readyz"} {
		if code, _ := get(t, url); code != 200 {
			t.Errorf("%s: %d", url, code)
		}
	}
	if code, _ := get(t, p+"/metrics"); code != 404 {
		t.Errorf("/metrics on the webhook port with admin_addr set: %d, want 404", code)
	}
	if code, body := get(t, a+"/metrics"); code != 200 || !strings.Contains(body, "leadbridge_ingest_") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("admin /metrics: %d, ingest and process metrics missing", code)
	}

	cfg2 := ingestConfig(t, b)
	one := listen(t)
	startIngest(t, cfg2, IngestListeners{Public: one}, zap.NewNop())
	o := "http://" + one.Addr().String()
	waitStatus(t, o+"/readyz", 200)
	if code, body := get(t, o+"/metrics"); code != 200 || !strings.Contains(body, "leadbridge_ingest_") {
		t.Errorf("/metrics without admin_addr: %d", code)
	}
}

// Issue 11.3: past http.max_connections a new connection is answered at once
// (503, not left waiting), health still answers, and a freed slot is used again.
func TestIngestMaxConnections(t *testing.T) {
	b := kafkatest.Find(t)
	cfg := ingestConfig(t, b)
	cfg.HTTP.MaxConnections = 2
	pub := listen(t)
	startIngest(t, cfg, IngestListeners{Public: pub}, zap.NewNop())
	base := "http://" + pub.Addr().String()
	waitStatus(t, base+"/readyz", 200)

	// Hold max connections, each proven taken by the server: a request on it
	// is answered and the connection kept (the overflow server closes its
	// connections; a slot of a probe above may still be in release).
	var held []net.Conn
	deadline := time.Now().Add(10 * time.Second)
	for len(held) < cfg.HTTP.MaxConnections {
		c, err := net.Dial("tcp", pub.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("held connection: %v", err)
		}
		if !resp.Close {
			held = append(held, c)
			continue
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("no connection slot came free")
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	code, body := get(t, base+"/webhooks/leadpro/1")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "too many connections") {
		t.Fatalf("past the limit: %d %s, want 503 too many connections", code, body)
	}
	t.Logf("refused in %v", time.Since(start))
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _ := get(t, base+path); code != 200 {
			t.Errorf("%s past the limit: %d", path, code)
		}
	}
	for _, c := range held {
		c.Close()
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		code, _ := get(t, base+"/webhooks/leadpro/1")
		if code != http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("closed connections never freed their slots")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Issue 11.3: a limit above RLIMIT_NOFILE is warned about at start.
func TestIngestWarnsAboveFileLimit(t *testing.T) {
	lim := openFileLimit()
	if lim == 0 || lim > 1<<30 {
		t.Skipf("RLIMIT_NOFILE unknown or unlimited (%d) here", lim)
	}
	b := kafkatest.Find(t)
	cfg := ingestConfig(t, b)
	cfg.HTTP.MaxConnections = int(lim) + 1
	core, logs := observer.New(zapcore.WarnLevel)
	startIngest(t, cfg, IngestListeners{Public: listen(t)}, zap.New(core))
	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessageSnippet("open-file limit").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no warning about http.max_connections above RLIMIT_NOFILE")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Issue 11.2: the logger keeps every warning; zap's production preset kept
// the first 100 a second and then every 100th.
func TestLoggerDoesNotSample(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	zc, err := loggerConfig("info")
	if err != nil {
		t.Fatal(err)
	}
	zc.OutputPaths = []string{path}
	logger, err := zc.Build()
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for range n {
		logger.Warn("webhook not acknowledged")
	}
	_ = logger.Sync()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(b), "\n"); got != n {
		t.Fatalf("%d of %d warnings written", got, n)
	}
}

// On SIGTERM ingest drains for http.drain_delay: /readyz answers 503 on both
// listeners (so a load balancer stops sending) and a new webhook gets 503,
// while /healthz stays 200; then ingest returns nil.
func TestIngestDrainFailsReadiness(t *testing.T) {
	b := kafkatest.Find(t)
	cfg := ingestConfig(t, b)
	cfg.HTTP.DrainDelay = 20 * time.Second // ended early below, by the test's own cancel
	pub, adm := listen(t), listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Ingest(ctx, cfg, IngestListeners{Public: pub, Admin: adm}, zap.NewNop()) }()
	p, a := "http://"+pub.Addr().String(), "http://"+adm.Addr().String()
	waitStatus(t, p+"/readyz", 200)

	cancel() // what SIGTERM does
	waitStatus(t, p+"/readyz", 503)
	waitStatus(t, a+"/readyz", 503)
	if code, _ := get(t, p+"/healthz"); code != 200 {
		t.Errorf("/healthz while draining: %d, want 200", code)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Post(p+"/webhooks/leadpro/1", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("webhook while draining: %d, want 503", resp.StatusCode)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ingest: %v", err)
		}
	case <-time.After(2 * cfg.HTTP.DrainDelay):
		t.Fatal("ingest did not return after its drain delay")
	}
}

// The enrich keys of the configuration reach enrich.Config: a key the
// loader reads but the wiring drops would be silently ignored.
func TestEnrichConfigCarriesTheBounds(t *testing.T) {
	cfg := config.Default()
	cfg.Enrich.MaxOutstanding, cfg.Enrich.MaxBatch, cfg.Enrich.LagInterval = 77, 7, 3*time.Second
	e := EnrichConfig(cfg, nil)
	if e.MaxOutstanding != 77 || e.MaxBatch != 7 || e.LagInterval != 3*time.Second {
		t.Fatalf("max_outstanding %d, max_batch %d, lag_interval %v", e.MaxOutstanding, e.MaxBatch, e.LagInterval)
	}
}
