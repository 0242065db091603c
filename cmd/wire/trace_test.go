package wire

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap/zaptest"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/enrich/aurora"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

func TestTracingOffWithoutOTELVariables(t *testing.T) {
	stop, err := Tracing(t.Context(), func(string) string { return "" }, "leadbridge-test")
	if err != nil || TracingOn() || stop(t.Context()) != nil {
		t.Fatalf("tracing on without OTEL_*: %v", err)
	}
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
	if _, err := Tracing(t.Context(), func(k string) string { return env[k] }, "x"); err == nil || TracingOn() {
		t.Fatal("grpc accepted")
	}
}

// TestOneWebhookOneTrace: a webhook carrying a W3C traceparent gives one
// trace with the ingest, produce, consume, Retrieve Lead and lead-record
// produce spans, all continuing the caller's trace, with no PII on them.
func TestOneWebhookOneTrace(t *testing.T) {
	b := kafkatest.RequireReal(t)
	exp := tracetest.NewInMemoryExporter()
	SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	t.Cleanup(func() {
		tracingOn.Store(false)
		otel.SetTracerProvider(noop.NewTracerProvider())
	})

	const tenant, apiToken, hookToken = "3fa85f64-5717-4562-b3fc-2c963f66afa6", "api-token", "hook-token"
	sb := sandbox.New(sandbox.Options{Tokens: map[string]string{tenant: apiToken}})
	t.Cleanup(sb.Close)
	api := httptest.NewServer(sb.Handler())
	t.Cleanup(api.Close)
	leadID := sb.PutLead(tenant, map[string]any{"address": "434 Brannan St, San Francisco, CA, 94107",
		"customer": map[string]any{"customer_first_name": "Jane", "customer_last_name": "Doe", "customer_email": "jane.doe@example.com"}})

	cfg := config.Default()
	cfg.Kafka.Brokers = b.Seeds
	cfg.Topics.Raw = kafkatest.Topic(t, b, "trace-raw", 1, nil)
	cfg.Topics.Leads = kafkatest.Topic(t, b, "trace-leads", 1, nil)
	cfg.Topics.DLQ = kafkatest.Topic(t, b, "trace-dlq", 1, nil)
	cfg.Topics.State = kafkatest.Topic(t, b, "trace-state", 1, nil)
	cfg.Topics.Retry = kafkatest.Topic(t, b, "trace-retry", 1, nil)
	cfg.Enrich.GroupID = "trace-" + cfg.Topics.Raw
	cfg.Aurora.Tenants = []config.Tenant{{ID: tenant, APIToken: apiToken,
		WebhookAuth: config.WebhookAuth{Header: "X-Aurora-Webhook-Token", Tokens: []schema.Secret{hookToken}}}}
	logger := zaptest.NewLogger(t)
	pub := listen(t)
	startIngest(t, cfg, IngestListeners{Public: pub}, logger)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Enrich(ctx, cfg, listen(t), aurora.NewClient(api.URL, APIClient(cfg), logger), logger) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("enrich: %v", err)
		}
	})

	traceID, parent := "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet,
		fmt.Sprintf("http://%s/webhooks/aurora/%s/lead_changed?lead_id=%s", pub.Addr(), tenant, leadID), nil)
	req.Header.Set("X-Aurora-Webhook-Token", hookToken)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parent+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}

	want := []string{
		"GET /webhooks/aurora/{tenant_id}/{event}",
		cfg.Topics.Raw + " publish",
		cfg.Topics.Raw + " receive",
		"aurora GET /tenants/{tenant_id}/leads/{lead_id}",
		cfg.Topics.Leads + " publish",
	}
	deadline := time.Now().Add(60 * time.Second)
	var spans tracetest.SpanStubs
	for {
		spans = exp.GetSpans()
		if hasAll(spans, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
		// The webhook's spans are one trace; bookkeeping writes (the state
		// topic's records, restore reads) may start their own.
		if slices.Contains(want, s.Name) && s.SpanContext.TraceID().String() != traceID {
			t.Errorf("span %q is in trace %s, not the webhook's", s.Name, s.SpanContext.TraceID())
		}
		for _, a := range s.Attributes {
			v := a.Value.Emit()
			if strings.Contains(v, "Jane") || strings.Contains(v, "jane.doe") || strings.Contains(v, hookToken) ||
				strings.Contains(v, apiToken) || strings.Contains(v, "lead_id=") {
				t.Errorf("span %q attribute %s carries PII, a secret or a query: %q", s.Name, a.Key, v)
			}
		}
	}
	for _, n := range want {
		if _, ok := byName[n]; !ok {
			t.Errorf("no span %q; spans: %v", n, names(spans))
		}
	}
	if !t.Failed() {
		// ingest continues the caller's span; raw publish is its child, raw
		// receive continues publish through the record's headers, and the API
		// call and the lead record's publish are children of the receive.
		parentOf := map[string]string{
			want[0]: parent,
			want[1]: want[0], want[2]: want[1], want[3]: want[2], want[4]: want[2],
		}
		for child, p := range parentOf {
			wantID := p
			if s, ok := byName[p]; ok {
				wantID = s.SpanContext.SpanID().String()
			}
			if got := byName[child].Parent.SpanID().String(); got != wantID {
				t.Errorf("%q's parent is %s, want %q (%s)", child, got, p, wantID)
			}
		}
	}
}

func hasAll(spans tracetest.SpanStubs, want []string) bool {
	have := map[string]bool{}
	for _, s := range spans {
		have[s.Name] = true
	}
	for _, n := range want {
		if !have[n] {
			return false
		}
	}
	return true
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// A request ingest does not accept (401, 404, 413, ...) may be forged: its
// span carries the route template, the method and the status, nothing of
// its path. An accepted webhook's span keeps its path (tenant and event).
func TestSpanOfRejectedRequestCarriesNoPath(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	t.Cleanup(func() {
		tracingOn.Store(false)
		otel.SetTracerProvider(noop.NewTracerProvider())
	})
	h := TraceHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Aurora-Webhook-Token") != "good" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	for name, tc := range map[string]struct {
		path, token string
		wantPath    bool
	}{
		"401":      {"/webhooks/aurora/jane.doe@example.com/lead_created", "forged", false},
		"accepted": {"/webhooks/aurora/t1/lead_created", "good", true},
	} {
		t.Run(name, func(t *testing.T) {
			exp.Reset()
			r := httptest.NewRequest(http.MethodGet, tc.path+"?lead_id=L1", nil)
			r.Header.Set("X-Aurora-Webhook-Token", tc.token)
			h.ServeHTTP(httptest.NewRecorder(), r)
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			gotPath := false
			for _, a := range spans[0].Attributes {
				if v := a.Value.Emit(); strings.Contains(v, "jane.doe") {
					t.Errorf("attribute %s of a rejected request's span carries its path: %q", a.Key, v)
				}
				gotPath = gotPath || (a.Key == "url.path" && a.Value.AsString() == tc.path)
			}
			if gotPath != tc.wantPath {
				t.Errorf("url.path on the span: %v, want %v", gotPath, tc.wantPath)
			}
		})
	}
}
