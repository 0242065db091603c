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
	// DefaultMaxOutstanding bounds the raw and retry records a member holds
	// polled and not yet committed (see Config.MaxOutstanding).
	DefaultMaxOutstanding = 10_000
	DefaultCommitInterval = time.Second
	DefaultShutdownGrace  = 15 * time.Second
	// DefaultTransactionTimeout is how long the brokers let a transaction
	// stay open. A killed member's open transaction holds read_committed
	// readers of leads back until it times out, so it is short; a batch
	// (one transaction) ends well within it (see DefaultBatchFor).
	DefaultTransactionTimeout = 8 * time.Second
	// DefaultBatchFor bounds the work of one transaction.
	DefaultBatchFor = 2 * time.Second
	// DefaultSessionTimeout and DefaultHeartbeatInterval decide how soon
	// the group notices a member that died: 6 s is the brokers' default
	// group.min.session.timeout.ms, against the client's 45 s, so a killed
	// member's partitions are taken over within seconds.
	DefaultSessionTimeout    = 6 * time.Second
	DefaultHeartbeatInterval = 500 * time.Millisecond
	// DefaultMaxBatch caps the records of one transaction, which is sized
	// by the work it holds (a backlog: about BatchFor/2 of it).
	DefaultMaxBatch = 5000
	// DefaultLagInterval is how often a member measures its partitions'
	// consumer lag at the brokers: a metadata, an end offsets and a
	// committed offsets request per interval (and a start offsets one
	// while a partition has no committed offset).
	DefaultLagInterval = 5 * time.Second
	// DefaultDeliveryTimeout bounds one produce, so a rebalance callback or
	// a shutdown waiting on produces in flight always ends.
	DefaultDeliveryTimeout = 30 * time.Second
)

// Config is what an Enricher needs; the configuration loader builds it from
// the user's file. Zero durations and counts take the defaults above.
type Config struct {
	RawTopic, LeadsTopic, DLQTopic string
	// StateTopic is the compacted per-lead state topic, co-partitioned with
	// raw; exactly-once only.
	StateTopic string
	// RetryTopic holds leads that keep failing, out of the main path, with
	// attempt and not-before headers; co-partitioned with raw; exactly-once only.
	RetryTopic string

	// AtLeastOnce turns exactly-once off (enrich.exactly_once: false): for
	// brokers without transactions. Lead records may then repeat after a
	// crash, and the per-lead guards live in memory only.
	AtLeastOnce bool
	// TransactionalID names this member's transactional producer; default
	// "leadbridge-enrich-" and a random suffix. A stable one (a pod name)
	// lets a restarted member fence its predecessor at once.
	TransactionalID    string
	TransactionTimeout time.Duration
	// BatchFor bounds a transaction's work: a lead still failing by then
	// leaves the main path for the retry topic (exactly-once).
	BatchFor time.Duration
	// MaxBatch is the most records polled for one transaction
	// (exactly-once), which is sized by its work (txnsize.go). It never
	// exceeds MaxOutstanding: a larger value is lowered to MaxOutstanding.
	MaxBatch int

	SessionTimeout    time.Duration // kgo.SessionTimeout
	HeartbeatInterval time.Duration // kgo.HeartbeatInterval

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
	// MaxOutstanding bounds the raw and retry records polled and not yet
	// committed, in both modes, so memory stays bounded however slow the
	// API is: at-least-once, a poll asks for no more than the room left
	// and polling pauses when there is none; exactly-once, a transaction's
	// batch is at most min(MaxBatch, MaxOutstanding) records and the next
	// is polled once it has committed.
	MaxOutstanding int
	CommitInterval time.Duration
	// LagInterval is how often the member sets leadbridge_enrich_consumer_lag
	// from the brokers (high watermark minus committed offset).
	LagInterval time.Duration
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
		RequestsPerMinute:  DefaultRequestsPerMinute,
		MaxInFlight:        DefaultMaxInFlight,
		RequestTimeout:     DefaultRequestTimeout,
		RetryFor:           DefaultRetryFor,
		NotFoundRetryFor:   DefaultNotFoundRetryFor,
		BackoffBase:        DefaultBackoffBase,
		BackoffMax:         DefaultBackoffMax,
		MaxOutstanding:     DefaultMaxOutstanding,
		CommitInterval:     DefaultCommitInterval,
		LagInterval:        DefaultLagInterval,
		ShutdownGrace:      DefaultShutdownGrace,
		DeliveryTimeout:    DefaultDeliveryTimeout,
		TransactionTimeout: DefaultTransactionTimeout,
		BatchFor:           DefaultBatchFor,
		MaxBatch:           DefaultMaxBatch,
		SessionTimeout:     DefaultSessionTimeout,
		HeartbeatInterval:  DefaultHeartbeatInterval,
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
	if c.MaxBatch == 0 {
		c.MaxBatch = d.MaxBatch
	}
	if c.MaxOutstanding > 0 && c.MaxBatch > c.MaxOutstanding {
		c.MaxBatch = c.MaxOutstanding // a batch is polled whole: it must fit the bound
	}
	set(&c.TransactionTimeout, d.TransactionTimeout)
	set(&c.BatchFor, d.BatchFor)
	set(&c.SessionTimeout, d.SessionTimeout)
	set(&c.HeartbeatInterval, d.HeartbeatInterval)
	set(&c.RequestTimeout, d.RequestTimeout)
	set(&c.RetryFor, d.RetryFor)
	set(&c.NotFoundRetryFor, d.NotFoundRetryFor)
	set(&c.BackoffBase, d.BackoffBase)
	set(&c.BackoffMax, d.BackoffMax)
	set(&c.CommitInterval, d.CommitInterval)
	set(&c.LagInterval, d.LagInterval)
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
	if !c.AtLeastOnce && (c.StateTopic == "" || c.RetryTopic == "") {
		bad("enrich: exactly_once needs the state and retry topics (topics.state, topics.retry)")
	}
	type count struct {
		name string
		n    int
	}
	for _, v := range []count{{"requests_per_minute", c.RequestsPerMinute}, {"max_in_flight", c.MaxInFlight}, {"max_outstanding", c.MaxOutstanding},
		{"max_batch", c.MaxBatch}} {
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
		{"commit_interval", c.CommitInterval}, {"lag_interval", c.LagInterval}, {"shutdown_grace", c.ShutdownGrace}, {"delivery_timeout", c.DeliveryTimeout},
		{"transaction_timeout", c.TransactionTimeout}, {"batch_for", c.BatchFor},
		{"session_timeout", c.SessionTimeout}, {"heartbeat_interval", c.HeartbeatInterval}} {
		if v.d < 0 {
			bad("enrich: %s must be positive, not %s", v.name, v.d)
		}
	}
	if !c.AtLeastOnce && c.BatchFor > 0 && c.TransactionTimeout > 0 {
		if err := CheckTransactionWindow(c.BatchFor, c.TransactionTimeout); err != nil {
			errs = append(errs, fmt.Errorf("enrich: %w", err))
		}
	}
	if c.HeartbeatInterval > 0 && c.SessionTimeout > 0 {
		if err := CheckGroupTimes(c.SessionTimeout, c.HeartbeatInterval); err != nil {
			errs = append(errs, fmt.Errorf("enrich: %w", err))
		}
	}
	if c.BackoffBase > 0 && c.BackoffMax > 0 && c.BackoffBase > c.BackoffMax {
		bad("enrich: backoff_base %s is above backoff_max %s", c.BackoffBase, c.BackoffMax)
	}
	return errors.Join(errs...)
}

// CheckTransactionWindow is the rule between batch_for and
// transaction_timeout (exactly-once): a transaction's work ends at
// batchFor, then it flushes and commits, and the brokers must not time it
// out first.
func CheckTransactionWindow(batchFor, transactionTimeout time.Duration) error {
	if batchFor*2 > transactionTimeout {
		return fmt.Errorf("batch_for %s must be at most half of transaction_timeout %s", batchFor, transactionTimeout)
	}
	return nil
}

// CheckGroupTimes is the rule between session_timeout and
// heartbeat_interval: a member heartbeats at least three times per session,
// so one lost heartbeat does not cost it its partitions.
func CheckGroupTimes(sessionTimeout, heartbeatInterval time.Duration) error {
	if heartbeatInterval*3 > sessionTimeout {
		return fmt.Errorf("heartbeat_interval %s must be at most a third of session_timeout %s", heartbeatInterval, sessionTimeout)
	}
	return nil
}
