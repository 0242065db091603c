package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/leadbridge/leadbridge/cmd/topics"
	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/ingest"
	"github.com/leadbridge/leadbridge/schema"
)

// Config is the whole user configuration (README "Configure it").
type Config struct {
	Kafka   Kafka         `yaml:"kafka"`
	Topics  topics.Config `yaml:"topics"`
	HTTP    HTTP          `yaml:"http"`
	Aurora  Aurora        `yaml:"aurora"`
	LeadPro LeadPro       `yaml:"leadpro"`
	Enrich  Enrich        `yaml:"enrich"`
	Log     Log           `yaml:"log"`

	// from maps a key (YAML path) to the LEADBRIDGE_* variable its value came
	// from, so errors name what the user wrote.
	from map[string]string
	// unset holds the keys whose value in the file had an unset ${VAR}: that
	// was reported once, precisely, and Validate says nothing more of their
	// emptiness.
	unset map[string]bool
	// given is false when neither a file nor any LEADBRIDGE_* variable
	// configured anything: every value is a default.
	given bool
}

type Kafka struct {
	Brokers []string `yaml:"brokers"`
	TLS     TLS      `yaml:"tls"`
	SASL    SASL     `yaml:"sasl"`
	// MaxBufferedBytes bounds what ingest holds waiting for acks; past it a
	// webhook gets 503 at once. Default 64 MiB.
	MaxBufferedBytes int64 `yaml:"max_buffered_bytes"`
}

type TLS struct {
	Enabled  bool   `yaml:"enabled"`
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

type SASL struct {
	Mechanism    string        `yaml:"mechanism"` // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	Username     string        `yaml:"username"`
	Password     schema.Secret `yaml:"password"`
	PasswordFile string        `yaml:"password_file"`
}

type HTTP struct {
	Addr string `yaml:"addr"`
	// AdminAddr, when set, serves /healthz, /readyz and /metrics on a second
	// listener and takes /metrics off Addr (health answers on both). Empty:
	// everything on Addr.
	AdminAddr string `yaml:"admin_addr"`
	// MaxConnections bounds the open connections on Addr; past it a new
	// connection gets an immediate 503 (health still answers). Default 4096.
	MaxConnections int           `yaml:"max_connections"`
	MaxBodyBytes   int64         `yaml:"max_body_bytes"` // default ingest.DefaultMaxBodyBytes
	AckTimeout     time.Duration `yaml:"ack_timeout"`    // default ingest.DefaultAckTimeout
	DrainDelay     time.Duration `yaml:"drain_delay"`    // default 0s
}

type Aurora struct {
	APIURL string `yaml:"api_url"`
	// RequestsPerMinute is the budget per API token; default enrich.DefaultRequestsPerMinute.
	RequestsPerMinute int      `yaml:"requests_per_minute"`
	Tenants           []Tenant `yaml:"tenants"`
}

type Tenant struct {
	ID           string        `yaml:"id"`
	APIToken     schema.Secret `yaml:"api_token"`
	APITokenFile string        `yaml:"api_token_file"`
	WebhookAuth  WebhookAuth   `yaml:"webhook_auth"`
}

type WebhookAuth struct {
	Header     string          `yaml:"header"`
	Tokens     []schema.Secret `yaml:"tokens"`
	TokensFile string          `yaml:"tokens_file"` // one token per line
	Basic      *Basic          `yaml:"basic"`
}

type Basic struct {
	Username      string          `yaml:"username"`
	Passwords     []schema.Secret `yaml:"passwords"`
	PasswordsFile string          `yaml:"passwords_file"` // one password per line
}

type LeadPro struct {
	// MaxTokenAge, when positive, refuses a token whose iat is older (or
	// absent); 0 (default): any age.
	MaxTokenAge time.Duration `yaml:"max_token_age"`
	Accounts    []Account     `yaml:"accounts"`
}

type Account struct {
	ID                 string          `yaml:"id"`
	SigningSecrets     []schema.Secret `yaml:"signing_secrets"`
	SigningSecretsFile string          `yaml:"signing_secrets_file"` // one secret per line
}

// Enrich configures an enrich member. The tuning defaults are enrich's
// (enrich.DefaultConfig), defined there once and read from there.
type Enrich struct {
	GroupID string `yaml:"group_id"` // default leadbridge-enrich
	// HTTPAddr serves /healthz, /readyz and /metrics of an enrich member.
	HTTPAddr         string        `yaml:"http_addr"` // default :8081
	MaxInFlight      int           `yaml:"max_in_flight"`
	RequestTimeout   time.Duration `yaml:"request_timeout"`
	RetryFor         time.Duration `yaml:"retry_for"`
	NotFoundRetryFor time.Duration `yaml:"not_found_retry_for"`
	ShutdownGrace    time.Duration `yaml:"shutdown_grace"`
	// MaxOutstanding bounds the raw and retry records a member holds polled and not
	// yet committed, in both modes (memory); MaxBatch is the records of one
	// transaction (exactly-once), lowered to MaxOutstanding when above it.
	MaxOutstanding int `yaml:"max_outstanding"`
	MaxBatch       int `yaml:"max_batch"`
	// BatchFor bounds one transaction's work (exactly-once): an API call
	// still running then is cut, and its lead leaves for the retry topic.
	// An API slower than about half of it needs it raised, with
	// TransactionTimeout at least twice it.
	BatchFor           time.Duration `yaml:"batch_for"`
	TransactionTimeout time.Duration `yaml:"transaction_timeout"`
	// LagInterval: how often a member measures leadbridge_enrich_consumer_lag at the brokers.
	LagInterval time.Duration `yaml:"lag_interval"`
	// ExactlyOnce: lead, DLQ, retry and state records commit with the raw
	// offsets in one Kafka transaction (default true). false: at-least-once,
	// for brokers without transactions.
	ExactlyOnce       *bool         `yaml:"exactly_once"`
	SessionTimeout    time.Duration `yaml:"session_timeout"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// TransactionalID: default a random one per process; a stable one (the
	// pod name) lets a restarted member fence its predecessor at once.
	TransactionalID string `yaml:"transactional_id"`
}

type Log struct {
	Level string `yaml:"level"` // debug, info (default), warn, error
	// Access is ingest's request-log policy: errors (default: non-2xx and
	// slower than Slow) or all.
	Access string        `yaml:"access"`
	Slow   time.Duration `yaml:"slow"` // default ingest.DefaultSlowRequest
}

// Knows reports whether owner is a configured Aurora tenant (provider
// aurora) or LeadPro account (provider leadpro).
func (c Config) Knows(provider, owner string) bool {
	switch provider {
	case schema.ProviderAurora:
		return slices.ContainsFunc(c.Aurora.Tenants, func(t Tenant) bool { return t.ID == owner })
	case schema.ProviderLeadPro:
		return slices.ContainsFunc(c.LeadPro.Accounts, func(a Account) bool { return a.ID == owner })
	}
	return false
}

// DefaultMaxConnections bounds ingest's connections when http.max_connections
// is unset: well under the usual 65,536 (and even 20,000) descriptor limits.
const DefaultMaxConnections = 4096

// Default is the configuration before the file and the environment apply.
func Default() Config {
	e := enrich.DefaultConfig()
	return Config{
		Kafka:  Kafka{Brokers: []string{"localhost:9092"}, MaxBufferedBytes: 64 << 20},
		Topics: topics.Defaults(),
		HTTP: HTTP{Addr: ":8080", MaxConnections: DefaultMaxConnections,
			MaxBodyBytes: ingest.DefaultMaxBodyBytes, AckTimeout: ingest.DefaultAckTimeout},
		Aurora: Aurora{APIURL: "https://api.aurorasolar.com", RequestsPerMinute: e.RequestsPerMinute},
		Enrich: Enrich{GroupID: "leadbridge-enrich", HTTPAddr: ":8081", MaxInFlight: e.MaxInFlight,
			RequestTimeout: e.RequestTimeout, RetryFor: e.RetryFor, NotFoundRetryFor: e.NotFoundRetryFor,
			ShutdownGrace: e.ShutdownGrace, MaxOutstanding: e.MaxOutstanding, MaxBatch: e.MaxBatch, LagInterval: e.LagInterval,
			BatchFor: e.BatchFor, TransactionTimeout: e.TransactionTimeout},
		Log:   Log{Level: "info", Access: string(ingest.AccessLogErrors), Slow: ingest.DefaultSlowRequest},
		given: true, // a Config built in code is meant
	}
}

// ErrUnreadable: the file could not be read or parsed, so there is nothing to validate.
var ErrUnreadable = errors.New("cannot read the config file")

// Load reads the configuration: the YAML file at path (with ${VAR} expanded
// from getenv; an unset variable is an error), or, with no path, the
// single-tenant environment variables. LEADBRIDGE_* overrides apply in both
// cases. Secrets named by *_file fields are read. Every problem is reported,
// joined; no error carries a value.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	cfg.from = map[string]string{}
	cfg.given = path != ""
	var errs []error
	if path != "" {
		raw, err := ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("%w %s: %w", ErrUnreadable, path, unwrapPath(err))
		}
		errs = append(errs, decodeYAML(raw, getenv, &cfg)...)
	} else {
		errs = append(errs, fromEnv(getenv, &cfg)...)
	}
	errs = append(errs, overrideFromEnv(getenv, &cfg)...)
	errs = append(errs, readSecretFiles(&cfg)...)
	return cfg, errors.Join(errs...)
}

// unwrapPath drops the *fs.PathError wrapper, whose text repeats the path.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}

// LoadValid loads and validates the configuration for what n needs,
// reporting what loading found and what validation finds, all at once.
func LoadValid(path string, getenv func(string) string, n Need) (Config, error) {
	cfg, err := Load(path, getenv)
	if !errors.Is(err, ErrUnreadable) {
		err = errors.Join(err, cfg.Validate(n))
	}
	return cfg, err
}
