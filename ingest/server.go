package ingest

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/schema"
)

// Defaults of Config.
const (
	DefaultMaxBodyBytes = 1 << 20
	// DefaultAckTimeout leaves a margin under Aurora's 10 s answer deadline.
	DefaultAckTimeout = 8 * time.Second
	DefaultRetryAfter = 10 * time.Second
	// DefaultSlowRequest is the default Config.SlowRequest.
	DefaultSlowRequest = time.Second
)

// AccessLogPolicy says which webhook requests get a line in the request log.
// Every accepted event is on the raw topic with its ce_id, which is the
// record of deliveries; the log is for what needs a look.
type AccessLogPolicy string

const (
	// AccessLogErrors (the default) logs every answer that is not 2xx and
	// every request slower than Config.SlowRequest.
	AccessLogErrors AccessLogPolicy = "errors"
	// AccessLogAll logs every request.
	AccessLogAll AccessLogPolicy = "all"
)

// Config is what a Server needs; cmd/wire builds it from the user's
// configuration. Zero values take the defaults documented on each field.
type Config struct {
	Aurora  []AuroraTenant
	LeadPro []LeadProAccount

	MaxBodyBytes int64         // request body limit; default DefaultMaxBodyBytes
	AckTimeout   time.Duration // longest wait for the broker's ack; default DefaultAckTimeout
	RetryAfter   time.Duration // Retry-After on 503; default DefaultRetryAfter

	// LeadProMaxTokenAge, when positive, refuses (401) a LeadPro token whose
	// iat is older than this (plus LeadProLeeway) or absent. Default 0: a
	// token is accepted at any age, as LeadPro's doc sets no limit.
	LeadProMaxTokenAge time.Duration

	// AccessLog is which requests are logged; default AccessLogErrors.
	AccessLog AccessLogPolicy
	// SlowRequest: under AccessLogErrors, a request that takes longer is
	// logged whatever its answer; default DefaultSlowRequest.
	SlowRequest time.Duration

	// BufferedBytes, if set, is exported as leadbridge_ingest_buffered_bytes.
	BufferedBytes func() int64
	// Metrics receives the server's metrics (the admin server in cmd/wire
	// serves them, with /healthz and /readyz); nil means a new registry.
	Metrics *prometheus.Registry

	Now   func() time.Time // clock; default time.Now
	NewID func() string    // ce_id generator; default UUIDv7
}

// Server is the webhook HTTP server. It is safe for concurrent use.
type Server struct {
	cfg      Config
	tenants  map[string]*tenantAuth
	accounts map[string]*leadProVerifier
	// unknownAccount verifies tokens for account ids not configured: it
	// always fails, after the same work.
	unknownAccount *leadProVerifier
	pub            Publisher
	log            *zap.Logger
	m              *metrics
	e              *echo.Echo
	acks           *ackDeadlines
	draining       atomic.Bool
}

// Validate reports every setting of c that NewServer cannot use, joined.
// Zero values are fine: they take the defaults.
func (c Config) Validate() error {
	var errs []error
	switch c.AccessLog {
	case "", AccessLogErrors, AccessLogAll:
	default:
		errs = append(errs, fmt.Errorf("log.access: %q is not all or errors", c.AccessLog))
	}
	for name, d := range map[string]time.Duration{
		"http.ack_timeout": c.AckTimeout, "log.slow": c.SlowRequest,
		"leadpro.max_token_age": c.LeadProMaxTokenAge,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", name))
		}
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("http.max_body_bytes must not be negative"))
	}
	return errors.Join(errs...)
}

// NewServer returns a Server publishing through pub. It applies defaults and
// does not validate cfg: call Config.Validate first. A nil logger logs
// nothing.
func NewServer(cfg Config, pub Publisher, logger *zap.Logger) *Server {
	if logger == nil {
		logger = zap.NewNop()
	}
	if cfg.AccessLog == "" {
		cfg.AccessLog = AccessLogErrors
	}
	if cfg.SlowRequest <= 0 {
		cfg.SlowRequest = DefaultSlowRequest
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.Metrics == nil {
		cfg.Metrics = prometheus.NewRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = newEventID
	}
	s := &Server{
		cfg:      cfg,
		tenants:  make(map[string]*tenantAuth),
		accounts: make(map[string]*leadProVerifier),
		pub:      pub,
		log:      logger,
		acks:     newAckDeadlines(cfg.AckTimeout),
	}
	for i := range cfg.Aurora {
		s.tenants[cfg.Aurora[i].ID] = newTenantAuth(cfg.Aurora[i])
	}
	for i := range cfg.LeadPro {
		s.accounts[cfg.LeadPro[i].ID] = newLeadProVerifier(cfg.LeadPro[i].SigningSecrets, cfg.LeadProMaxTokenAge, cfg.Now)
	}
	s.unknownAccount = newLeadProVerifier(unknownAccountSecrets, cfg.LeadProMaxTokenAge, cfg.Now)
	var buffered func() float64
	if cfg.BufferedBytes != nil {
		buffered = func() float64 { return float64(cfg.BufferedBytes()) }
	}
	s.m = newMetrics(cfg.Metrics, buffered)
	s.e = s.routes()
	return s
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.routerError
	// No logging middleware: webhook handlers and routerError write the
	// request line, so a 200 under log.access: errors costs nothing.
	e.Use(middleware.Recover())
	e.GET("/webhooks/aurora/:tenant_id/:event", s.webhook(schema.ProviderAurora, s.aurora))
	e.GET("/webhooks/aurora/:tenant_id", s.webhook(schema.ProviderAurora, s.aurora))
	e.POST("/webhooks/leadpro/:account_id", s.webhook(schema.ProviderLeadPro, s.leadpro))
	return e
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.e }

// Drain makes the server answer 503 to new webhooks; the caller (which owns
// the listener and /readyz) then stops serving after its drain delay.
func (s *Server) Drain() { s.draining.Store(true) }

// handled is what a provider handler reports of one delivery.
type handled struct {
	event   string // the metric label: a known event's name, else "other"
	flagged bool   // accepted with problems
	eventID string // the ce_id, when published
}

// handlerFunc is a provider handler: what it handled, and an error from the
// table in errors.go.
type handlerFunc func(c echo.Context) (handled, error)

// webhook wraps a provider handler with the draining check, the error table,
// the metrics and the request log.
func (s *Server) webhook(provider string, h handlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		res, err := handled{event: "other"}, error(nil)
		if s.draining.Load() {
			err = ErrUnavailable
		} else {
			res, err = h(c)
		}
		outcome := outcomeAccepted
		switch {
		case err != nil:
			outcome = outcomeOf(err)
			s.fail(c, err)
			res.eventID = ""
		case res.flagged:
			outcome = outcomeAcceptedWithProblems
		}
		took := time.Since(start)
		s.m.delivered(provider, res.event, outcome, took)
		s.logRequest(c, took, res.eventID)
		return nil
	}
}

func outcomeOf(err error) outcome {
	switch statusOf(err) {
	case http.StatusBadRequest:
		return outcomeInvalid
	case http.StatusUnauthorized:
		return outcomeUnauthorized
	case http.StatusRequestEntityTooLarge:
		return outcomeTooLarge
	case http.StatusServiceUnavailable:
		return outcomeUnavailable
	}
	return outcomeError
}

// fail writes the answer for err: its status from the table, a message that
// echoes no input, Retry-After on 503. Unknown errors are logged once here.
func (s *Server) fail(c echo.Context, err error) {
	status := statusOf(err)
	msg := err.Error()
	switch status {
	case http.StatusUnauthorized:
		msg = ErrUnauthorized.Error()
	case http.StatusServiceUnavailable:
		c.Response().Header().Set("Retry-After", schema.RetryAfter(s.cfg.RetryAfter))
		msg = ErrUnavailable.Error()
		s.log.Warn("webhook not acknowledged", zap.String("route", c.Path()), zap.Error(err))
	case http.StatusInternalServerError:
		msg = "internal error"
		s.log.Error("webhook failed", zap.String("route", c.Path()), zap.Error(err))
	}
	_ = c.JSON(status, map[string]string{"error": msg})
}

// publish puts ev on the raw topic and answers 200 {"id": ...} after the ack.
// The wait has its own deadline and ignores the client hanging up (see
// ackDeadlines).
func (s *Server) publish(c echo.Context, ev schema.Event) error {
	if err := s.pub.Publish(s.acks.context(c.Request().Context()), ev); err != nil {
		switch {
		case errors.Is(err, ErrOverloaded):
			s.m.produceErrors.WithLabelValues("overloaded").Inc()
		case errors.Is(err, ErrTooLarge):
			s.m.produceErrors.WithLabelValues("too_large").Inc()
		default:
			s.m.produceErrors.WithLabelValues("unacknowledged").Inc()
		}
		return err
	}
	// ev.ID is a UUID: no escaping needed, and no encoder on the hot path.
	body := append(append(append(make([]byte, 0, 9+len(ev.ID)), `{"id":"`...), ev.ID...), `"}`...)
	// Set as a shared value, Echo leaves it (Header.Set allocates a slice).
	c.Response().Header()[echo.HeaderContentType] = jsonContentType
	return c.JSONBlob(http.StatusOK, body)
}

// jsonContentType is the Content-Type header value of every 200; net/http
// only reads header values.
var jsonContentType = []string{echo.MIMEApplicationJSON}

// routerError answers what the router itself rejects (404, 405) and what
// Recover caught, without echoing the request.
func (s *Server) routerError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	if errors.As(err, &he) && he.Code < 500 {
		_ = c.JSON(he.Code, map[string]string{"error": strings.ToLower(http.StatusText(he.Code))})
	} else {
		s.log.Error("request failed", zap.String("route", c.Path()), zap.Error(err))
		_ = c.JSON(http.StatusInternalServerError, map[string]string{"error": "internal error"})
	}
	s.logRequest(c, 0, "")
}

// logRequest writes the request line as Config.AccessLog says, with the
// route template, never the URL: Aurora's query strings and LeadPro's bodies
// stay out of logs. eventID is the ce_id of what was published, or "".
func (s *Server) logRequest(c echo.Context, took time.Duration, eventID string) {
	status := c.Response().Status
	if s.cfg.AccessLog != AccessLogAll && status >= 200 && status < 300 && took <= s.cfg.SlowRequest {
		return
	}
	fields := []zap.Field{
		zap.String("method", c.Request().Method),
		zap.String("route", c.Path()),
		zap.Int("status", status),
		zap.Duration("duration", took),
	}
	if eventID != "" {
		fields = append(fields, zap.String("event_id", eventID))
	}
	s.log.Info("request", fields...)
}
