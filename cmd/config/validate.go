package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/ingest"
	"github.com/leadbridge/leadbridge/schema"
)

// Need says what a command requires of the configuration.
type Need struct {
	Webhooks  bool // ingest: at least one tenant or account, with webhook credentials
	APITokens bool // enrich: at least one tenant or account; Aurora API tokens
	// Configured: refuse to run on defaults alone (no file, no LEADBRIDGE_*
	// variable): topics create must not silently use localhost:9092.
	Configured bool
	// Kafka: the command has a Kafka client, so kafka.tls's files (when TLS
	// is on) must load.
	Kafka bool
}

// HowToConfigure is the hint of every "nothing configured" error.
const HowToConfigure = "give --config FILE (or LEADBRIDGE_CONFIG), or LEADBRIDGE_AURORA_TENANT_ID / " +
	"LEADBRIDGE_LEADPRO_ACCOUNT_ID with their credentials (README \"Configure it\")"

// Validate reports every problem at once. A problem with a value that came
// from a LEADBRIDGE_* variable names the variable, not the YAML key.
func (c Config) Validate(n Need) error {
	if !c.given && (n.Webhooks || n.APITokens || n.Configured) {
		return errors.New("nothing is configured: " + HowToConfigure)
	}
	var errs []error
	bad := func(key, format string, args ...any) {
		if v, ok := c.from[key]; ok {
			key = v
		}
		msg, sep := fmt.Sprintf(format, args...), ": "
		if strings.HasPrefix(msg, "must ") || strings.HasPrefix(msg, "is ") {
			sep = " " // "topics.partitions must be at least 1"
		}
		errs = append(errs, errors.New(key+sep+msg))
	}
	// A value left empty by an unset ${VAR} was reported as "${VAR} is not
	// set"; its emptiness is the same problem, reported once.
	missing := func(key, format string, args ...any) {
		if !c.unsetUnder(key) {
			bad(key, format, args...)
		}
	}
	emptyOr := func(v string) func(key, format string, args ...any) {
		if v == "" {
			return missing
		}
		return bad
	}
	if len(c.Kafka.Brokers) == 0 {
		bad("kafka.brokers", "at least one broker is needed")
	}
	for _, b := range c.Kafka.Brokers {
		if !hostPort(b, false) {
			emptyOr(b)("kafka.brokers", "%q is not host:port", b)
		}
	}
	if t := c.Kafka.TLS; (t.CertFile == "") != (t.KeyFile == "") {
		bad("kafka.tls", "cert_file and key_file go together")
	} else if t.Enabled && n.Kafka {
		if _, err := t.Config(); err != nil { // files that cannot be read are configuration too
			errs = append(errs, err)
		}
	}
	switch s := c.Kafka.SASL; s.Mechanism {
	case "":
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if s.Username == "" || s.Password == "" {
			missing("kafka.sasl", "%s needs username and password", s.Mechanism)
		}
	default:
		bad("kafka.sasl.mechanism", "%q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
	}
	if c.Kafka.MaxBufferedBytes <= 0 {
		bad("kafka.max_buffered_bytes", "must be positive")
	}
	names := map[string]bool{}
	for _, t := range []struct{ what, name string }{{"raw", c.Topics.Raw}, {"leads", c.Topics.Leads}, {"dlq", c.Topics.DLQ}, {"erasures", c.Topics.Erasures}, {"state", c.Topics.State}, {"retry", c.Topics.Retry}} {
		if !ValidTopic(t.name) {
			emptyOr(t.name)("topics."+t.what, "%q is not a valid topic name", t.name)
		}
		if names[t.name] {
			bad("topics."+t.what, "%q is used twice", t.name)
		}
		names[t.name] = true
	}
	if c.Topics.Partitions < 1 {
		bad("topics.partitions", "must be at least 1")
	}
	if c.Topics.ReplicationFactor < 1 {
		bad("topics.replication_factor", "must be at least 1")
	}
	if c.Topics.RawRetention <= 0 || c.Topics.DLQRetention <= 0 {
		bad("topics", "raw_retention and dlq_retention must be positive")
	}
	if !hostPort(c.HTTP.Addr, true) {
		emptyOr(c.HTTP.Addr)("http.addr", "%q is not [host]:port", c.HTTP.Addr)
	}
	if c.HTTP.AdminAddr != "" && !hostPort(c.HTTP.AdminAddr, true) {
		bad("http.admin_addr", "%q is not [host]:port", c.HTTP.AdminAddr)
	}
	if c.HTTP.MaxConnections < 1 {
		bad("http.max_connections", "must be at least 1")
	}
	if c.HTTP.MaxBodyBytes <= 0 {
		bad("http.max_body_bytes", "must be positive")
	}
	if c.HTTP.AckTimeout <= 0 || c.HTTP.AckTimeout >= 10*time.Second {
		bad("http.ack_timeout", "must be above 0 and under Aurora's 10s deadline")
	}
	if c.HTTP.DrainDelay < 0 {
		bad("http.drain_delay", "must not be negative")
	}
	if u, err := url.Parse(c.Aurora.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Not quoted: a URL may carry a password or a key in its query.
		emptyOr(c.Aurora.APIURL)("aurora.api_url", "is not an absolute http(s) URL")
	}
	if c.Aurora.RequestsPerMinute <= 0 {
		bad("aurora.requests_per_minute", "must be positive")
	}
	c.validateTenants(n, bad, missing)
	if (n.Webhooks || n.APITokens) && len(c.Aurora.Tenants)+len(c.LeadPro.Accounts) == 0 {
		bad("aurora.tenants, leadpro.accounts", "none configured: nothing could deliver a webhook; "+HowToConfigure)
	}
	if c.Enrich.GroupID == "" {
		missing("enrich.group_id", "is empty")
	}
	if !hostPort(c.Enrich.HTTPAddr, true) {
		emptyOr(c.Enrich.HTTPAddr)("enrich.http_addr", "%q is not [host]:port", c.Enrich.HTTPAddr)
	}
	if e := c.Enrich; e.MaxInFlight < 1 || e.RequestTimeout <= 0 || e.RetryFor <= 0 || e.NotFoundRetryFor < 0 || e.ShutdownGrace < 0 {
		bad("enrich", "max_in_flight, request_timeout and retry_for must be positive, not_found_retry_for and shutdown_grace not negative")
	}
	if e := c.Enrich; e.MaxOutstanding < 1 || e.MaxBatch < 1 || e.LagInterval <= 0 {
		bad("enrich", "max_outstanding, max_batch and lag_interval must be positive")
	}
	if e := c.Enrich; e.BatchFor <= 0 || e.TransactionTimeout <= 0 {
		bad("enrich", "batch_for and transaction_timeout must be positive")
	} else if e.ExactlyOnce == nil || *e.ExactlyOnce {
		if err := enrich.CheckTransactionWindow(e.BatchFor, e.TransactionTimeout); err != nil {
			bad("enrich", "%v", err)
		}
	}
	switch e := c.Enrich; {
	case e.SessionTimeout < 0 || e.HeartbeatInterval < 0:
		bad("enrich", "session_timeout and heartbeat_interval must not be negative (0: the default)")
	case e.SessionTimeout > 0 || e.HeartbeatInterval > 0:
		// A zero takes enrich's default, and the rule holds between the
		// values enrich will use.
		session := cmp.Or(e.SessionTimeout, enrich.DefaultSessionTimeout)
		heartbeat := cmp.Or(e.HeartbeatInterval, enrich.DefaultHeartbeatInterval)
		if err := enrich.CheckGroupTimes(session, heartbeat); err != nil {
			bad("enrich", "%v", err)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		emptyOr(c.Log.Level)("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch ingest.AccessLogPolicy(c.Log.Access) {
	case ingest.AccessLogErrors, ingest.AccessLogAll:
	default:
		emptyOr(c.Log.Access)("log.access", "%q is not errors or all", c.Log.Access)
	}
	if c.Log.Slow <= 0 {
		bad("log.slow", "must be above 0")
	}
	if c.LeadPro.MaxTokenAge < 0 {
		bad("leadpro.max_token_age", "must not be negative")
	}
	return errors.Join(errs...)
}

// validateTenants checks ids (plain, unique: the same rule for tenants and
// accounts) and the credentials n needs; missing reports an empty value.
func (c Config) validateTenants(n Need, bad, missing func(key, format string, args ...any)) {
	ids := func(what, key string, id string, seen map[string]bool) {
		if id == "" {
			missing(key+".id", "empty or not a plain id")
		} else if !cleanID(id) {
			bad(key+".id", "empty or not a plain id")
		} else if seen[id] {
			bad(key+".id", "%s %s is listed twice", what, id)
		}
		seen[id] = true
	}
	seen := map[string]bool{}
	for i, t := range c.Aurora.Tenants {
		p := fmt.Sprintf("aurora.tenants[%d]", i)
		ids("tenant", p, t.ID, seen)
		if n.APITokens && t.APIToken == "" {
			missing(p+".api_token", "is needed to call Retrieve Lead")
		}
		if !n.Webhooks {
			continue
		}
		switch a := t.WebhookAuth; {
		case a.Basic != nil && (a.Header != "" || len(a.Tokens) > 0):
			bad(p+".webhook_auth", "give header or basic, not both")
		case a.Basic != nil:
			if a.Basic.Username == "" || len(a.Basic.Passwords) == 0 || hasEmpty(a.Basic.Passwords) {
				missing(p+".webhook_auth.basic", "needs a username and non-empty passwords")
			}
		case a.Header == "" || len(a.Tokens) == 0 || hasEmpty(a.Tokens):
			missing(p+".webhook_auth", "needs a header and non-empty tokens, or basic")
		case !headerName.MatchString(a.Header):
			// No request can carry it: every delivery would be a 401.
			bad(p+".webhook_auth.header", "%q is not an HTTP header name", a.Header)
		}
	}
	seen = map[string]bool{}
	for i, a := range c.LeadPro.Accounts {
		p := fmt.Sprintf("leadpro.accounts[%d]", i)
		ids("account", p, a.ID, seen)
		if n.Webhooks && (len(a.SigningSecrets) == 0 || hasEmpty(a.SigningSecrets)) {
			missing(p+".signing_secrets", "at least one non-empty secret is needed")
		}
	}
}

// unsetUnder reports whether key, its _file or a key under it had an unset
// ${VAR} in the file.
func (c Config) unsetUnder(key string) bool {
	for u := range c.unset {
		if u == key || u == key+"_file" || strings.HasPrefix(u, key+".") || strings.HasPrefix(u, key+"[") {
			return true
		}
	}
	return false
}

// hostPort reports whether s is host:port with a numeric port (0-65535);
// emptyHost allows ":8080".
func hostPort(s string, emptyHost bool) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || (host == "" && !emptyHost) {
		return false
	}
	p, err := strconv.ParseUint(port, 10, 16)
	return err == nil && (p > 0 || emptyHost)
}

var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// ValidTopic reports whether s is a name Kafka accepts for a topic.
func ValidTopic(s string) bool { return topicName.MatchString(s) && s != "." && s != ".." }

// headerName is an HTTP field name: a token of RFC 9110's tchar.
var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

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
