package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/leadbridge/leadbridge/schema"
)

// Config is the whole user configuration (CONTRACT.md "Configuration"). It is
// read here and only here; packages get plain structs built from it.
type Config struct {
	Kafka   KafkaConfig   `yaml:"kafka"`
	Topics  TopicsConfig  `yaml:"topics"`
	HTTP    HTTPConfig    `yaml:"http"`
	Aurora  AuroraConfig  `yaml:"aurora"`
	LeadPro LeadProConfig `yaml:"leadpro"`
	Enrich  EnrichConfig  `yaml:"enrich"`
	Log     LogConfig     `yaml:"log"`
}

type KafkaConfig struct {
	Brokers []string   `yaml:"brokers"`
	TLS     TLSConfig  `yaml:"tls"`
	SASL    SASLConfig `yaml:"sasl"`
	// MaxBufferedBytes bounds what ingest holds waiting for acks; past it a
	// webhook gets 503 at once. Default 64 MiB.
	MaxBufferedBytes int64 `yaml:"max_buffered_bytes"`
}

type TLSConfig struct {
	Enabled  bool   `yaml:"enabled"`
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

type SASLConfig struct {
	Mechanism    string        `yaml:"mechanism"` // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	Username     string        `yaml:"username"`
	Password     schema.Secret `yaml:"password"`
	PasswordFile string        `yaml:"password_file"`
}

type TopicsConfig struct {
	Raw               string        `yaml:"raw"`
	Leads             string        `yaml:"leads"`
	DLQ               string        `yaml:"dlq"`
	Partitions        int32         `yaml:"partitions"`
	ReplicationFactor int16         `yaml:"replication_factor"`
	RawRetention      time.Duration `yaml:"raw_retention"` // default 168h (7 days)
	DLQRetention      time.Duration `yaml:"dlq_retention"` // default 720h (30 days)
}

type HTTPConfig struct {
	Addr         string        `yaml:"addr"`
	MaxBodyBytes int64         `yaml:"max_body_bytes"`
	AckTimeout   time.Duration `yaml:"ack_timeout"` // default 8s
	DrainDelay   time.Duration `yaml:"drain_delay"` // default 0s
}

type AuroraConfig struct {
	APIURL            string         `yaml:"api_url"`
	RequestsPerMinute int            `yaml:"requests_per_minute"`
	Tenants           []TenantConfig `yaml:"tenants"`
}

type TenantConfig struct {
	ID           string            `yaml:"id"`
	APIToken     schema.Secret     `yaml:"api_token"`
	APITokenFile string            `yaml:"api_token_file"`
	WebhookAuth  WebhookAuthConfig `yaml:"webhook_auth"`
}

type WebhookAuthConfig struct {
	Header     string          `yaml:"header"`
	Tokens     []schema.Secret `yaml:"tokens"`
	TokensFile string          `yaml:"tokens_file"` // one token per line
	Basic      *BasicConfig    `yaml:"basic"`
}

type BasicConfig struct {
	Username      string          `yaml:"username"`
	Passwords     []schema.Secret `yaml:"passwords"`
	PasswordsFile string          `yaml:"passwords_file"` // one password per line
}

type LeadProConfig struct {
	Accounts []AccountConfig `yaml:"accounts"`
}

type AccountConfig struct {
	ID                 string          `yaml:"id"`
	SigningSecrets     []schema.Secret `yaml:"signing_secrets"`
	SigningSecretsFile string          `yaml:"signing_secrets_file"` // one secret per line
}

type EnrichConfig struct {
	GroupID string `yaml:"group_id"` // default leadbridge-enrich
	// HTTPAddr serves /healthz, /readyz and /metrics of an enrich member.
	HTTPAddr string `yaml:"http_addr"` // default :8081
	// MaxInFlight bounds the leads being worked on at once by one member.
	MaxInFlight int `yaml:"max_in_flight"` // default 256
	// RequestTimeout bounds one Retrieve Lead call.
	RequestTimeout time.Duration `yaml:"request_timeout"` // default 10s
	// RetryFor bounds how long a retryable failure (timeouts, 5xx, 429) is
	// retried before the event goes to the DLQ.
	RetryFor time.Duration `yaml:"retry_for"` // default 10m
	// NotFoundRetryFor is how long a 404 is retried (a new lead can lag its webhook).
	NotFoundRetryFor time.Duration `yaml:"not_found_retry_for"` // default 2m
	// ShutdownGrace is how long a stopping member lets in-flight work finish.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"` // default 15s
}

type LogConfig struct {
	Level string `yaml:"level"` // debug, info (default), warn, error
}

func defaultConfig() Config {
	return Config{
		Kafka: KafkaConfig{Brokers: []string{"localhost:9092"}, MaxBufferedBytes: 64 << 20},
		Topics: TopicsConfig{Raw: "leads.raw", Leads: "leads", DLQ: "leads.dlq", Partitions: 12,
			ReplicationFactor: 1, RawRetention: 7 * 24 * time.Hour, DLQRetention: 30 * 24 * time.Hour},
		HTTP:   HTTPConfig{Addr: ":8080", MaxBodyBytes: 1 << 20, AckTimeout: 8 * time.Second},
		Aurora: AuroraConfig{APIURL: "https://api.aurorasolar.com", RequestsPerMinute: 90},
		Enrich: EnrichConfig{GroupID: "leadbridge-enrich", HTTPAddr: ":8081", MaxInFlight: 256, RequestTimeout: 10 * time.Second,
			RetryFor: 10 * time.Minute, NotFoundRetryFor: 2 * time.Minute, ShutdownGrace: 15 * time.Second},
		Log: LogConfig{Level: "info"},
	}
}

// loadConfig reads the configuration: the YAML file at path (with ${VAR}
// expanded from getenv; an unset variable is an error), or, with no path, the
// single-tenant environment variables. LEADBRIDGE_* overrides apply in both
// cases. Secrets named by *_file fields are read. Every problem is reported,
// joined; no error carries a secret value.
func loadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig()
	var errs []error
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("%w: %w", errUnreadable, err)
		}
		errs = append(errs, decodeYAML(raw, getenv, &cfg)...)
	} else {
		errs = append(errs, fromEnv(getenv, &cfg)...)
	}
	errs = append(errs, overrideFromEnv(getenv, &cfg)...)
	errs = append(errs, readSecretFiles(&cfg)...)
	if len(errs) > 0 {
		return cfg, errors.Join(errs...)
	}
	return cfg, nil
}

// errUnreadable: the file could not be read or parsed, so there is nothing to validate.
var errUnreadable = errors.New("cannot read the config file")

var envRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func decodeYAML(raw []byte, getenv func(string) string, cfg *Config) []error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil {
		return []error{fmt.Errorf("%w: not valid YAML: %w", errUnreadable, err)}
	}
	var errs []error
	expandNode(&doc, getenv, &errs)
	if len(doc.Content) == 0 {
		return errs
	}
	checkKnownFields(doc.Content[0], reflect.TypeOf(*cfg), "", &errs)
	if err := doc.Decode(cfg); err != nil {
		errs = append(errs, fmt.Errorf("config: %w", err))
	}
	return errs
}

// expandNode replaces ${VAR} in every scalar (and $$ with $). Expanded plain
// scalars are re-resolved, so "${PARTITIONS}" can fill an int field.
func expandNode(n *yaml.Node, getenv func(string) string, errs *[]error) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "$") {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
			if m == "$$" {
				return "$"
			}
			name := m[2 : len(m)-1]
			v := getenv(name)
			if v == "" {
				*errs = append(*errs, fmt.Errorf("line %d: ${%s} is not set", n.Line, name))
			}
			return v
		})
		if n.Style == 0 {
			n.Tag = ""
		}
	}
	for _, c := range n.Content {
		expandNode(c, getenv, errs)
	}
}

// checkKnownFields reports mapping keys that no field of t takes: a typo in a
// config key must not silently fall back to a default.
func checkKnownFields(n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode {
			for _, c := range n.Content {
				checkKnownFields(c, t.Elem(), path+"[]", errs)
			}
			return
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || n.Kind != yaml.MappingNode {
		return
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		fields[name] = t.Field(i).Type
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		ft, ok := fields[k]
		if !ok {
			*errs = append(*errs, fmt.Errorf("line %d: unknown key %s", n.Content[i].Line, strings.TrimPrefix(path+"."+k, ".")))
			continue
		}
		checkKnownFields(n.Content[i+1], ft, path+"."+k, errs)
	}
}

// fromEnv builds the single-tenant configuration from environment variables
// alone (README "Configuration").
func fromEnv(getenv func(string) string, cfg *Config) []error {
	var errs []error
	if id := getenv("LEADBRIDGE_AURORA_TENANT_ID"); id != "" {
		t := TenantConfig{ID: id, APIToken: schema.Secret(getenv("LEADBRIDGE_AURORA_API_TOKEN")),
			APITokenFile: getenv("LEADBRIDGE_AURORA_API_TOKEN_FILE")}
		if user := getenv("LEADBRIDGE_AURORA_WEBHOOK_USERNAME"); user != "" {
			t.WebhookAuth.Basic = &BasicConfig{Username: user,
				Passwords:     secretList(getenv("LEADBRIDGE_AURORA_WEBHOOK_PASSWORD")),
				PasswordsFile: getenv("LEADBRIDGE_AURORA_WEBHOOK_PASSWORD_FILE")}
		} else {
			t.WebhookAuth.Header = cmp.Or(getenv("LEADBRIDGE_AURORA_WEBHOOK_HEADER"), "X-Aurora-Webhook-Token")
			t.WebhookAuth.Tokens = secretList(getenv("LEADBRIDGE_AURORA_WEBHOOK_TOKEN"))
			t.WebhookAuth.TokensFile = getenv("LEADBRIDGE_AURORA_WEBHOOK_TOKEN_FILE")
		}
		cfg.Aurora.Tenants = []TenantConfig{t}
	}
	if id := getenv("LEADBRIDGE_LEADPRO_ACCOUNT_ID"); id != "" {
		cfg.LeadPro.Accounts = []AccountConfig{{ID: id,
			SigningSecrets:     secretList(getenv("LEADBRIDGE_LEADPRO_SIGNING_SECRET")),
			SigningSecretsFile: getenv("LEADBRIDGE_LEADPRO_SIGNING_SECRET_FILE")}}
	}
	return errs
}

// overrideFromEnv applies the LEADBRIDGE_* variables the contract names next
// to each setting; they win over the file.
func overrideFromEnv(getenv func(string) string, cfg *Config) []error {
	var errs []error
	if v := getenv("LEADBRIDGE_KAFKA_BROKERS"); v != "" {
		cfg.Kafka.Brokers = splitList(v)
	}
	for name, dst := range map[string]*string{
		"LEADBRIDGE_TOPIC_RAW":        &cfg.Topics.Raw,
		"LEADBRIDGE_TOPIC_LEADS":      &cfg.Topics.Leads,
		"LEADBRIDGE_TOPIC_DLQ":        &cfg.Topics.DLQ,
		"LEADBRIDGE_HTTP_ADDR":        &cfg.HTTP.Addr,
		"LEADBRIDGE_AURORA_API_URL":   &cfg.Aurora.APIURL,
		"LEADBRIDGE_ENRICH_GROUP":     &cfg.Enrich.GroupID,
		"LEADBRIDGE_ENRICH_HTTP_ADDR": &cfg.Enrich.HTTPAddr,
		"LEADBRIDGE_LOG_LEVEL":        &cfg.Log.Level,
	} {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	if v := getenv("LEADBRIDGE_AURORA_REQUESTS_PER_MINUTE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, errors.New("LEADBRIDGE_AURORA_REQUESTS_PER_MINUTE is not a number"))
		}
		cfg.Aurora.RequestsPerMinute = n
	}
	return errs
}

func readSecretFiles(cfg *Config) []error {
	var errs []error
	one := func(what string, dst *schema.Secret, file string) {
		if file == "" {
			return
		}
		if *dst != "" {
			errs = append(errs, fmt.Errorf("%s: give the secret or its _file, not both", what))
			return
		}
		vals, err := readLines(file)
		if err != nil || len(vals) != 1 {
			errs = append(errs, fmt.Errorf("%s_file: want one secret in %s", what, file))
			return
		}
		*dst = vals[0]
	}
	many := func(what string, dst *[]schema.Secret, file string) {
		if file == "" {
			return
		}
		vals, err := readLines(file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s_file: %w", what, err))
			return
		}
		*dst = append(*dst, vals...)
	}
	one("kafka.sasl.password", &cfg.Kafka.SASL.Password, cfg.Kafka.SASL.PasswordFile)
	for i := range cfg.Aurora.Tenants {
		t := &cfg.Aurora.Tenants[i]
		p := fmt.Sprintf("aurora.tenants[%d]", i)
		one(p+".api_token", &t.APIToken, t.APITokenFile)
		many(p+".webhook_auth.tokens", &t.WebhookAuth.Tokens, t.WebhookAuth.TokensFile)
		if b := t.WebhookAuth.Basic; b != nil {
			many(p+".webhook_auth.basic.passwords", &b.Passwords, b.PasswordsFile)
		}
	}
	for i := range cfg.LeadPro.Accounts {
		a := &cfg.LeadPro.Accounts[i]
		many(fmt.Sprintf("leadpro.accounts[%d].signing_secrets", i), &a.SigningSecrets, a.SigningSecretsFile)
	}
	return errs
}

// readLines reads secrets, one per non-empty line; the error names the file,
// never its content.
func readLines(path string) ([]schema.Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s", path)
	}
	var out []schema.Secret
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			out = append(out, schema.Secret(l))
		}
	}
	return out, nil
}

// need says what a command requires of the configuration.
type need struct {
	webhooks  bool // ingest: at least one tenant or account, webhook credentials
	apiTokens bool // enrich: Aurora API tokens
}

// Validate reports every problem at once (Watermill's Validate style).
func (c Config) Validate(n need) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Kafka.Brokers) == 0 {
		bad("kafka.brokers: at least one broker is needed")
	}
	for _, b := range c.Kafka.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			bad("kafka.brokers: %q is not host:port", b)
		}
	}
	if t := c.Kafka.TLS; (t.CertFile == "") != (t.KeyFile == "") {
		bad("kafka.tls: cert_file and key_file go together")
	}
	switch s := c.Kafka.SASL; s.Mechanism {
	case "":
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if s.Username == "" || s.Password == "" {
			bad("kafka.sasl: %s needs username and password", s.Mechanism)
		}
	default:
		bad("kafka.sasl.mechanism: %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
	}
	if c.Kafka.MaxBufferedBytes <= 0 {
		bad("kafka.max_buffered_bytes must be positive")
	}
	names := map[string]bool{}
	for what, name := range map[string]string{"raw": c.Topics.Raw, "leads": c.Topics.Leads, "dlq": c.Topics.DLQ} {
		if !validTopic(name) {
			bad("topics.%s: %q is not a valid topic name", what, name)
		}
		if names[name] {
			bad("topics: %q is used twice", name)
		}
		names[name] = true
	}
	if c.Topics.Partitions < 1 {
		bad("topics.partitions must be at least 1")
	}
	if c.Topics.ReplicationFactor < 1 {
		bad("topics.replication_factor must be at least 1")
	}
	if c.Topics.RawRetention <= 0 || c.Topics.DLQRetention <= 0 {
		bad("topics: raw_retention and dlq_retention must be positive")
	}
	if c.HTTP.Addr == "" {
		bad("http.addr is empty")
	}
	if c.HTTP.MaxBodyBytes <= 0 {
		bad("http.max_body_bytes must be positive")
	}
	if c.HTTP.AckTimeout <= 0 || c.HTTP.AckTimeout >= 10*time.Second {
		bad("http.ack_timeout must be above 0 and under Aurora's 10s deadline")
	}
	if u, err := url.Parse(c.Aurora.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("aurora.api_url: %q is not an http(s) URL", c.Aurora.APIURL)
	}
	if c.Aurora.RequestsPerMinute <= 0 {
		bad("aurora.requests_per_minute must be positive")
	}
	seen := map[string]bool{}
	for i, t := range c.Aurora.Tenants {
		p := fmt.Sprintf("aurora.tenants[%d]", i)
		if t.ID == "" || !cleanID(t.ID) {
			bad("%s.id: empty or not a plain id", p)
		}
		if seen[t.ID] {
			bad("%s.id: tenant %s is listed twice", p, t.ID)
		}
		seen[t.ID] = true
		if n.apiTokens && t.APIToken == "" {
			bad("%s.api_token is needed to call Retrieve Lead", p)
		}
		if n.webhooks {
			a := t.WebhookAuth
			switch {
			case a.Basic != nil && (a.Header != "" || len(a.Tokens) > 0):
				bad("%s.webhook_auth: give header or basic, not both", p)
			case a.Basic != nil:
				if a.Basic.Username == "" || len(a.Basic.Passwords) == 0 || hasEmpty(a.Basic.Passwords) {
					bad("%s.webhook_auth.basic needs a username and non-empty passwords", p)
				}
			case a.Header == "" || len(a.Tokens) == 0 || hasEmpty(a.Tokens):
				bad("%s.webhook_auth needs a header and non-empty tokens, or basic", p)
			}
		}
	}
	seen = map[string]bool{}
	for i, a := range c.LeadPro.Accounts {
		p := fmt.Sprintf("leadpro.accounts[%d]", i)
		if a.ID == "" || !cleanID(a.ID) {
			bad("%s.id: empty or not a plain id", p)
		}
		if seen[a.ID] {
			bad("%s.id: account %s is listed twice", p, a.ID)
		}
		seen[a.ID] = true
		if n.webhooks && (len(a.SigningSecrets) == 0 || hasEmpty(a.SigningSecrets)) {
			bad("%s.signing_secrets: at least one non-empty secret is needed", p)
		}
	}
	if n.webhooks && len(c.Aurora.Tenants)+len(c.LeadPro.Accounts) == 0 {
		bad("no aurora.tenants and no leadpro.accounts: nothing could deliver a webhook")
	}
	if c.Enrich.GroupID == "" || c.Enrich.MaxInFlight < 1 || c.Enrich.RequestTimeout <= 0 ||
		c.Enrich.RetryFor <= 0 || c.Enrich.NotFoundRetryFor < 0 {
		bad("enrich: group_id, max_in_flight, request_timeout and retry_for must be set and positive")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	return errors.Join(errs...)
}

var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func validTopic(s string) bool { return topicName.MatchString(s) && s != "." && s != ".." }

var plainID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

func cleanID(s string) bool { return plainID.MatchString(s) }

func hasEmpty(ss []schema.Secret) bool {
	for _, s := range ss {
		if s == "" {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func secretList(s string) []schema.Secret {
	var out []schema.Secret
	for _, p := range splitList(s) {
		out = append(out, schema.Secret(p))
	}
	return out
}
