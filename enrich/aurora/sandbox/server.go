package sandbox

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/schema"
)

// Options configure a Server. The zero value is a usable, strict sandbox: no
// tenant has a token (every API call answers 401 until SetToken), no latency,
// no rate limit, and webhooks retry on Aurora's real schedule.
type Options struct {
	// Tokens maps tenant id to its API token. A call for a tenant in the map
	// is accepted only with "Authorization: Bearer <that token>".
	Tokens map[string]string
	// AcceptAnyToken is dev mode: a call for a tenant not in Tokens is
	// accepted with any non-empty bearer token. Tenants in Tokens still need
	// their own token, so 401 stays testable.
	AcceptAnyToken bool

	// Latency delays every API answer, plus a uniform random [0, Jitter).
	Latency, Jitter time.Duration
	// RateLimit is the most calls accepted per token in any sliding
	// RateWindow; more are answered 429 with Retry-After. 0 means no limit.
	// Aurora's default is 90 per minute per API key.
	RateLimit int
	// RateWindow is the sliding window of RateLimit. Default one minute.
	RateWindow time.Duration
	// Faults are status overrides queued at start, by lead id; the key ""
	// applies to any lead. See FailNext.
	Faults map[string][]Fault

	// RetryCompression divides Aurora's webhook retry intervals (30 s, 5 min,
	// 30 min, 3 h, 20 h); 1000 turns the 24-hour schedule into 86 s. Values
	// below 1 mean 1, the real schedule.
	RetryCompression float64
	// WebhookTimeout bounds each webhook attempt. Default 10 s, Aurora's.
	WebhookTimeout time.Duration
	// HTTPClient sends webhooks. Default a plain http.Client. Redirects are
	// never followed, whatever the client says: Aurora counts a 3xx as a
	// failed delivery.
	HTTPClient *http.Client

	// Logger may be nil (no logging).
	Logger *zap.Logger
	// Now is the clock for lead timestamps, the rate window, the call log and
	// delivery records (not for sleeping). Default time.Now.
	Now func() time.Time
}

// Server is the sandbox. Create it with New, serve Handler(), and call Close
// to stop webhook deliveries. All methods are safe for concurrent use.
type Server struct {
	log    *zap.Logger
	now    func() time.Time
	client *http.Client
	mux    *http.ServeMux

	ctx    context.Context // ends at Close; parent of every delivery
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	closed      bool
	tokens      map[string]string
	anyToken    bool
	latency     time.Duration
	jitter      time.Duration
	rateLimit   int
	rateWindow  time.Duration
	compression float64
	hookTimeout time.Duration
	faults      map[string][]Fault             // lead id ("" any) -> queue
	accepted    map[string][]time.Time         // token -> calls let through, within rateWindow
	callLog     map[string][]time.Time         // token -> every call's arrival
	stats       Stats                          // counters since New or ResetStats
	leads       map[string]map[string]*lead    // tenant -> lead id -> lead
	hooks       map[string]map[string]*Webhook // tenant -> webhook id -> webhook
	hookOrder   map[string][]string            // tenant -> webhook ids in creation order
	deliveries  []*Delivery                    // in firing order
}

// New returns a Server configured by opts. It starts no goroutine until a
// webhook fires.
func New(opts Options) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		log:         opts.Logger,
		now:         opts.Now,
		ctx:         ctx,
		cancel:      cancel,
		tokens:      make(map[string]string, len(opts.Tokens)),
		anyToken:    opts.AcceptAnyToken,
		faults:      make(map[string][]Fault, len(opts.Faults)),
		accepted:    make(map[string][]time.Time),
		callLog:     make(map[string][]time.Time),
		stats:       newStats(),
		leads:       make(map[string]map[string]*lead),
		hooks:       make(map[string]map[string]*Webhook),
		hookOrder:   make(map[string][]string),
		hookTimeout: opts.WebhookTimeout,
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.hookTimeout <= 0 {
		s.hookTimeout = DefaultWebhookTimeout
	}
	for t, tok := range opts.Tokens {
		s.tokens[t] = tok
	}
	for lead, fs := range opts.Faults {
		s.faults[lead] = append([]Fault(nil), fs...)
	}
	s.setLatencyLocked(opts.Latency, opts.Jitter)
	s.setRateLimitLocked(opts.RateLimit, opts.RateWindow)
	s.setRetryCompressionLocked(opts.RetryCompression)

	client := &http.Client{}
	if opts.HTTPClient != nil {
		c := *opts.HTTPClient
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s.client = client

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.Handle("POST /tenants/{tenant_id}/leads", s.api(s.handleCreateLead))
	s.mux.Handle("GET /tenants/{tenant_id}/leads/{lead_id}", s.api(s.handleRetrieveLead))
	s.mux.Handle("PUT /tenants/{tenant_id}/leads/{lead_id}", s.api(s.handleUpdateLead))
	s.mux.Handle("PATCH /tenants/{tenant_id}/leads/{lead_id}", s.api(s.handleUpdateLead))
	s.mux.Handle("POST /tenants/{tenant_id}/webhooks", s.api(s.handleCreateWebhook))
	s.mux.Handle("GET /tenants/{tenant_id}/webhooks", s.api(s.handleListWebhooks))
	s.mux.Handle("GET /tenants/{tenant_id}/webhooks/{webhook_id}", s.api(s.handleGetWebhook))
	s.mux.Handle("PUT /tenants/{tenant_id}/webhooks/{webhook_id}", s.api(s.handleUpdateWebhook))
	s.mux.Handle("DELETE /tenants/{tenant_id}/webhooks/{webhook_id}", s.api(s.handleDeleteWebhook))
	return s
}

// Handler returns the HTTP API:
//
//	GET    /healthz                                (no auth, not counted)
//	POST   /tenants/{tenant_id}/leads              create a lead
//	GET    /tenants/{tenant_id}/leads/{lead_id}    Retrieve Lead
//	PUT    /tenants/{tenant_id}/leads/{lead_id}    update (merge) a lead; PATCH too
//	POST   /tenants/{tenant_id}/webhooks           create a webhook subscription
//	GET    /tenants/{tenant_id}/webhooks           list subscriptions
//	GET    /tenants/{tenant_id}/webhooks/{id}      retrieve one
//	PUT    /tenants/{tenant_id}/webhooks/{id}      update one
//	DELETE /tenants/{tenant_id}/webhooks/{id}      delete one
func (s *Server) Handler() http.Handler { return s.mux }

// Close stops webhook deliveries (pending retries are abandoned, attempts in
// flight are cancelled) and waits for their goroutines. Later events fire
// nothing; the HTTP API keeps answering. Close is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// SetToken sets (or, with token "", removes) a tenant's API token.
func (s *Server) SetToken(tenantID, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token == "" {
		delete(s.tokens, tenantID)
		return
	}
	s.tokens[tenantID] = token
}

// SetLatency changes the delay of every API answer: latency plus a uniform
// random [0, jitter).
func (s *Server) SetLatency(latency, jitter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setLatencyLocked(latency, jitter)
}

func (s *Server) setLatencyLocked(latency, jitter time.Duration) {
	s.latency, s.jitter = max(latency, 0), max(jitter, 0)
}

// api wraps an endpoint with what every Aurora API call goes through, in
// order: the call log, latency, bearer auth, the rate limit, counting.
func (s *Server) api(h func(w http.ResponseWriter, r *http.Request, tenant string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		tenant := r.PathValue("tenant_id")
		token, ok := schema.BearerToken(r.Header.Get("Authorization"))
		if !ok {
			token = ""
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}

		s.mu.Lock()
		arrival := s.now()
		if token != "" {
			s.callLog[token] = append(s.callLog[token], arrival)
		}
		delay := s.latency
		if s.jitter > 0 {
			delay += rand.N(s.jitter)
		}
		s.mu.Unlock()

		defer func() {
			s.count(r, tenant, rec.status)
			s.log.Debug("sandbox api call",
				zap.String("route", r.Pattern),
				zap.String("tenant", tenant),
				zap.Int("status", rec.status),
				zap.Duration("duration", time.Since(start)),
			)
		}()

		if !sleep(r.Context(), delay) {
			rec.status = 499 // client gone; nothing to write to
			return
		}
		if !s.authorized(tenant, token) {
			rec.Header().Set("WWW-Authenticate", `Bearer realm="aurora-sandbox"`)
			writeError(rec, http.StatusUnauthorized)
			return
		}
		if wait, ok := s.admit(token, arrival); !ok {
			rec.Header().Set("Retry-After", schema.RetryAfter(wait))
			writeError(rec, http.StatusTooManyRequests)
			return
		}
		h(rec, r, tenant)
	})
}

func (s *Server) authorized(tenant, token string) bool {
	if token == "" {
		return false
	}
	s.mu.Lock()
	want, known := s.tokens[tenant]
	anyToken := s.anyToken
	s.mu.Unlock()
	if !known {
		return anyToken
	}
	return subtle.ConstantTimeCompare([]byte(token), []byte(want)) == 1
}

// sleep waits d or until ctx ends; it reports whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// maxBodyBytes bounds request bodies; a lead or a webhook is a few KB.
const maxBodyBytes = 1 << 20

// decodeObject reads a JSON object body. A body that is a single key named
// wrapper holding an object ({"lead": {...}}) is unwrapped, so both Aurora's
// wrapped form and the bare object are accepted. Numbers stay json.Number so
// they are echoed exactly as sent.
func decodeObject(w http.ResponseWriter, r *http.Request, wrapper string) (map[string]any, int) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			return nil, http.StatusRequestEntityTooLarge
		}
		return nil, http.StatusBadRequest
	}
	if dec.More() || obj == nil {
		return nil, http.StatusBadRequest
	}
	if inner, ok := obj[wrapper].(map[string]any); ok && len(obj) == 1 {
		obj = inner
	}
	return obj, 0
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with the status text only: an error body never echoes
// the request.
func writeError(w http.ResponseWriter, status int) {
	writeJSON(w, status, map[string]string{"error": http.StatusText(status)})
}

// writeInvalid answers 422 with a message naming the offending field, never
// its value.
func writeInvalid(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Error()})
}
