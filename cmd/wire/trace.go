package wire

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Tracing is OpenTelemetry for one process: one trace runs from a webhook
// through raw, the Retrieve Lead call and the lead record. It is configured
// by the standard OTEL_* variables and exports over OTLP/HTTP; it is off
// (no-op, nothing injected into records) unless OTEL_EXPORTER_OTLP_ENDPOINT
// or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, or when OTEL_SDK_DISABLED is
// true or OTEL_TRACES_EXPORTER is none. service names the process
// (OTEL_SERVICE_NAME wins). The returned shutdown flushes what is buffered.
//
// It sets the global tracer provider and the W3C trace-context propagator,
// which kotel (Kafka headers) and the HTTP spans below use. Call it before
// building Kafka clients.
func Tracing(ctx context.Context, getenv func(string) string, service string) (shutdown func(context.Context) error, err error) {
	off := func(context.Context) error { return nil }
	if getenv("OTEL_SDK_DISABLED") == "true" || getenv("OTEL_TRACES_EXPORTER") == "none" ||
		(getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "") {
		return off, nil
	}
	if p := getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); p != "" && p != "http/protobuf" {
		return off, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%s: leadbridge exports http/protobuf only", p)
	}
	exp, err := otlptracehttp.New(ctx) // reads OTEL_EXPORTER_OTLP_* itself
	if err != nil {
		return off, fmt.Errorf("otlp trace exporter: %w", err)
	}
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", service)), resource.WithFromEnv())
	if err != nil {
		return off, fmt.Errorf("otel resource: %w", err)
	}
	// The SDK reads OTEL_TRACES_SAMPLER and OTEL_BSP_* itself.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// SetTracerProvider installs tp and the W3C trace-context propagator as the
// process's globals (tests pass an SDK provider with an in-memory exporter).
func SetTracerProvider(tp trace.TracerProvider) {
	tracingOn.Store(true)
	otel.SetTracerProvider(tp)
	// Trace context only: W3C baggage is caller-controlled data that would
	// otherwise be copied into every record's headers.
	otel.SetTextMapPropagator(propagation.TraceContext{})
}

// kafkaTracing is the kotel hook: a "publish" span per produced record whose
// context goes into the record's headers (traceparent, as kotel writes it),
// and a "receive" span per fetched record continuing the context its headers
// carry, left in Record.Context for the processing. Span attributes are the
// topic, partition, offset and key: lead keys are ids.
func kafkaTracing() kgo.Opt {
	return kgo.WithHooks(kotel.NewKotel(kotel.WithTracer(kotel.NewTracer())).Hooks()...)
}

const tracerName = "github.com/leadbridge/leadbridge"

// tracingOn is set by SetTracerProvider: without it no hook, wrapper or
// header is added anywhere, so tracing costs nothing when it is off.
var tracingOn atomic.Bool

// TracingOn reports whether SetTracerProvider installed a provider.
func TracingOn() bool { return tracingOn.Load() }

// TraceHTTP gives every request a server span continuing an incoming W3C
// traceparent. The span is named by a route template and carries the method
// and the status, and, when the answer is 2xx, the path (tenant and account
// ids, event names): never the query string, headers or body. Only a 2xx
// proves the request authentic; any other may be forged, and nothing it
// says goes on the span.
func TraceHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := otel.Tracer(tracerName).Start(ctx, r.Method+" "+routeOf(r.URL.Path),
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method)))
		defer span.End()
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
		if rec.status >= 200 && rec.status < 300 {
			span.SetAttributes(attribute.String("url.path", r.URL.Path))
		}
		if rec.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.status))
		}
	})
}

// routeOf maps a webhook path to its route template (a low-cardinality span
// name).
func routeOf(path string) string {
	switch parts := strings.Split(strings.Trim(path, "/"), "/"); {
	case len(parts) == 3 && parts[0] == "webhooks" && parts[1] == "leadpro":
		return "/webhooks/leadpro/{account_id}"
	case len(parts) == 4 && parts[0] == "webhooks" && parts[1] == "aurora":
		return "/webhooks/aurora/{tenant_id}/{event}"
	case len(parts) == 3 && parts[0] == "webhooks" && parts[1] == "aurora":
		return "/webhooks/aurora/{tenant_id}"
	}
	return "other"
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// TraceTransport gives every outgoing API call a client span, a child of the
// request's context, and sends the W3C traceparent along. The span carries
// the method, the path (tenant and lead ids) and the status, never the
// Authorization header or a body.
func TraceTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		ctx, span := otel.Tracer(tracerName).Start(r.Context(), "aurora "+r.Method+" "+apiRouteOf(r.URL.Path),
			trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		r = r.Clone(ctx)
		otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(r.Header))
		resp, err := base.RoundTrip(r)
		switch {
		case err != nil:
			span.SetStatus(codes.Error, "transport error")
		default:
			span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
			if resp.StatusCode >= 500 {
				span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
			}
		}
		return resp, err
	})
}

func apiRouteOf(path string) string {
	if parts := strings.Split(strings.Trim(path, "/"), "/"); len(parts) == 4 && parts[0] == "tenants" && parts[2] == "leads" {
		return "/tenants/{tenant_id}/leads/{lead_id}"
	}
	return "other"
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
