package enrich

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadbridge/leadbridge/schema"
)

// Defaults, in one place: New applies them to zero fields, and the
// configuration loader reads them from DefaultConfig.
const (
	DefaultRequestsPerMinute = 90
	// DefaultMaxInFlight is the concurrent API calls per member. 256, what
	// deployments ran with (the configuration's default), rather than the
	// 64 this package once declared: at 1,000 webhooks/s and a 50 ms API
	// about 50 calls are in flight, and bursts need room above that.
	DefaultMaxInFlight      = 256
	DefaultRequestTimeout   = 10 * time.Second
	DefaultRetryFor         = 10 * time.Minute
	DefaultNotFoundRetryFor = 2 * time.Minute
	DefaultBackoffBase      = time.Second
	DefaultBackoffMax       = time.Minute
	DefaultMaxOutstanding   = 10_000
	DefaultCommitInterval   = time.Second
	DefaultShutdownGrace    = 15 * time.Second
	// DefaultDeliveryTimeout bounds one produce, so a rebalance callback or
	// a shutdown waiting on produces in flight always ends.
	DefaultDeliveryTimeout = 30 * time.Second
)

// Config is what an Enricher needs; the configuration loader builds it from
// the user's file. Zero durations and counts take the defaults above.
type Config struct {
	RawTopic, LeadsTopic, DLQTopic string

	// APITokens maps an Aurora tenant id to its API token. An Aurora lead
	// event of a tenant without one goes to the DLQ (reason no_api_token).
	APITokens map[string]schema.Secret
	// RequestsPerMinute is the Aurora budget per API token for the whole group.
	RequestsPerMinute int

	MaxInFlight      int           // concurrent API calls per member
	RequestTimeout   time.Duration // one API call
	RetryFor         time.Duration // retrying timeouts, 5xx and 429 before the DLQ
	NotFoundRetryFor time.Duration // retrying 404 (a new lead can lag its webhook)
	BackoffBase      time.Duration // first retry wait
	BackoffMax       time.Duration // longest retry wait
	// MaxOutstanding bounds polled records not yet committable; polling
	// pauses beyond it, so memory stays bounded however slow the API is.
	MaxOutstanding int
	CommitInterval time.Duration
	// ShutdownGrace is how long Run lets in-flight work finish after its
	// context ends; what is unfinished then is re-processed by the group.
	ShutdownGrace time.Duration
	// DeliveryTimeout bounds one produce (kgo.RecordDeliveryTimeout).
	DeliveryTimeout time.Duration

	Metrics prometheus.Registerer // nil: a private registry
	Now     func() time.Time      // default time.Now
}

// DefaultConfig is a Config with every default set and no topics or tokens.
func DefaultConfig() Config {
	return Config{
		RequestsPerMinute: DefaultRequestsPerMinute,
		MaxInFlight:       DefaultMaxInFlight,
		RequestTimeout:    DefaultRequestTimeout,
		RetryFor:          DefaultRetryFor,
		NotFoundRetryFor:  DefaultNotFoundRetryFor,
		BackoffBase:       DefaultBackoffBase,
		BackoffMax:        DefaultBackoffMax,
		MaxOutstanding:    DefaultMaxOutstanding,
		CommitInterval:    DefaultCommitInterval,
		ShutdownGrace:     DefaultShutdownGrace,
		DeliveryTimeout:   DefaultDeliveryTimeout,
	}
}

// withDefaults fills every zero field from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	if c.RequestsPerMinute == 0 {
		c.RequestsPerMinute = d.RequestsPerMinute
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = d.MaxInFlight
	}
	if c.MaxOutstanding == 0 {
		c.MaxOutstanding = d.MaxOutstanding
	}
	set(&c.RequestTimeout, d.RequestTimeout)
	set(&c.RetryFor, d.RetryFor)
	set(&c.NotFoundRetryFor, d.NotFoundRetryFor)
	set(&c.BackoffBase, d.BackoffBase)
	set(&c.BackoffMax, d.BackoffMax)
	set(&c.CommitInterval, d.CommitInterval)
	set(&c.ShutdownGrace, d.ShutdownGrace)
	set(&c.DeliveryTimeout, d.DeliveryTimeout)
	if c.Metrics == nil {
		c.Metrics = prometheus.NewRegistry()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.RawTopic == "" || c.LeadsTopic == "" || c.DLQTopic == "" {
		bad("enrich: raw, leads and DLQ topics must be named")
	}
	type count struct {
		name string
		n    int
	}
	for _, v := range []count{{"requests_per_minute", c.RequestsPerMinute}, {"max_in_flight", c.MaxInFlight}, {"max_outstanding", c.MaxOutstanding}} {
		if v.n < 0 {
			bad("enrich: %s must be positive, not %d", v.name, v.n)
		}
	}
	type span struct {
		name string
		d    time.Duration
	}
	for _, v := range []span{{"request_timeout", c.RequestTimeout}, {"retry_for", c.RetryFor},
		{"not_found_retry_for", c.NotFoundRetryFor}, {"backoff_base", c.BackoffBase}, {"backoff_max", c.BackoffMax},
		{"commit_interval", c.CommitInterval}, {"shutdown_grace", c.ShutdownGrace}, {"delivery_timeout", c.DeliveryTimeout}} {
		if v.d < 0 {
			bad("enrich: %s must be positive, not %s", v.name, v.d)
		}
	}
	if c.BackoffBase > 0 && c.BackoffMax > 0 && c.BackoffBase > c.BackoffMax {
		bad("enrich: backoff_base %s is above backoff_max %s", c.BackoffBase, c.BackoffMax)
	}
	return errors.Join(errs...)
}
