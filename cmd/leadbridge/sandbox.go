package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
)

const sandboxSummary = `Run a local stand-in for Aurora Solar's API: leads (create, Retrieve Lead,
update) and the Webhooks API, in memory. Creating a lead fires lead_created
(updating one fires lead_changed) to every matching subscription the way
Aurora does: a GET to its url_template with its header or basic auth, retried
on Aurora's schedule (30s, 5m, 30m, 3h, 20h; --retry-compression divides it).
Point enrich at it with aurora.api_url or LEADBRIDGE_AURORA_API_URL.

API tokens: a tenant of the configuration (aurora.tenants[]) that has an
api_token must send exactly that token; other tenants are refused unless
--any-token, which accepts any non-empty bearer token for them. --any-token
is on by default when no tenant has an api_token.

On start it prints ready-to-paste curl commands: subscribe ingest, create a
lead, retrieve it.`

// sandboxDemoTenant is the tenant of the examples when none is configured:
// the contract's example tenant id.
const sandboxDemoTenant = "3fa85f64-5717-4562-b3fc-2c963f66afa6"

// sandboxAnyToken is the bearer token the examples use when any is accepted.
const sandboxAnyToken = "sandbox-token"

func runSandbox(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "aurora" && args[0] != "-h" && args[0] != "--help") {
		return usagef("usage: leadbridge sandbox aurora [--addr ADDR] [--config FILE] [flags] (see --help)")
	}
	fs := newFlags("sandbox aurora", sandboxSummary, stdout)
	path := configFlag(fs, getenv)
	addr := fs.String("addr", "127.0.0.1:8090", "listen on this `host:port`")
	anyToken := fs.Bool("any-token", false, "accept any non-empty bearer token for tenants without a configured api_token\n(default true when no tenant has an api_token)")
	compression := fs.Float64("retry-compression", 1, "divide Aurora's webhook retry schedule by `F` (1: the real schedule; 1000: 24 h in 86 s)")
	latency := fs.Duration("latency", 0, "delay every API answer by this `duration`")
	ingestURL := fs.String("ingest-url", "http://127.0.0.1:8080", "leadbridge ingest base `URL` used in the printed subscription example")
	publicURL := fs.String("public-url", "", "the sandbox's base `URL` in the printed commands (default: from --addr); set it\nwhen a port mapping moves the sandbox, as docker compose's AURORA_SANDBOX_HOST_PORT does")
	if args[0] != "aurora" {
		fs.help()
		return nil
	}
	if helped, err := parseFlags(fs, args[1:]); helped || err != nil {
		return err
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	switch {
	case *compression < 1:
		return usagef("--retry-compression must be at least 1")
	case *latency < 0:
		return usagef("--latency must not be negative")
	}
	if u, err := url.Parse(*ingestURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		strings.ContainsAny(*ingestURL, `'"\$`) {
		return usagef("--ingest-url: %q is not an http(s) URL", *ingestURL)
	}
	if u, err := url.Parse(*publicURL); *publicURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		strings.ContainsAny(*publicURL, `'"\$`)) {
		return usagef("--public-url: %q is not an http(s) URL", *publicURL)
	}
	cfg, err := loadValid(*path, getenv, need{})
	if err != nil {
		return err
	}
	tokens := map[string]string{}
	for _, t := range cfg.Aurora.Tenants {
		if t.APIToken != "" {
			tokens[t.ID] = t.APIToken.Reveal()
		}
	}
	if !explicit["any-token"] {
		*anyToken = len(tokens) == 0
	}
	if !*anyToken && len(tokens) == 0 {
		return usagef("--any-token=false, and no aurora.tenants[].api_token is configured: every call would be refused")
	}
	logger, err := wire.NewLogger(cfg.Log.Level)
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck // nothing useful to do with a failed sync of stderr
	ln, err := wire.Listen(*addr)
	if err != nil {
		return err
	}
	opts := sandbox.Options{
		Tokens:           tokens,
		AcceptAnyToken:   *anyToken,
		Latency:          *latency,
		RetryCompression: *compression,
		Logger:           logger.Named("sandbox"),
	}
	banner := sandboxBanner{cfg: cfg, fromFile: *path != "", opts: opts, ingestURL: strings.TrimRight(*ingestURL, "/"),
		base: strings.TrimRight(*publicURL, "/")}
	return serveSandbox(ctx, ln, opts, banner, stdout, logger)
}

// serveSandbox serves the sandbox on ln until ctx ends, then stops taking
// calls (in-flight ones finish, for 5 s at most) and abandons pending
// webhook retries.
func serveSandbox(ctx context.Context, ln net.Listener, opts sandbox.Options, banner sandboxBanner, stdout io.Writer, logger *zap.Logger) error {
	sb := sandbox.New(opts)
	defer sb.Close()
	if banner.base == "" { // --public-url unset
		banner.base = baseURL(ln.Addr())
	}
	if err := banner.write(stdout); err != nil {
		logger.Warn("print sandbox banner", zap.Error(err))
	}
	logger.Info("aurora sandbox listening", zap.String("addr", ln.Addr().String()),
		zap.Int("tenants_with_token", len(opts.Tokens)), zap.Bool("any_token", opts.AcceptAnyToken))
	err := wire.ServeHandler(ctx, ln, sb.Handler())
	sb.Close()
	logger.Info("aurora sandbox stopped")
	if err != nil {
		return fmt.Errorf("aurora sandbox: %w", err)
	}
	return nil
}

// baseURL is the URL a local client reaches addr at: an unspecified host
// (0.0.0.0, ::) becomes 127.0.0.1.
func baseURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// sandboxBanner prints what the sandbox serves and curl commands that work
// against it as they are. Secrets never appear: the commands expand shell
// variables the user exports, and say which.
type sandboxBanner struct {
	cfg       config.Config
	fromFile  bool // the configuration came from a file, not LEADBRIDGE_* variables
	opts      sandbox.Options
	ingestURL string
	base      string // where the user reaches the sandbox: --public-url, else from the listener
}

func (b sandboxBanner) write(w io.Writer) error {
	tenant, token, exports := sandboxDemoTenant, "", []string{}
	envName := func(file, env string) string { // where the user most likely holds a secret
		if b.fromFile {
			return file
		}
		return env
	}
	var ten *config.Tenant
	if len(b.cfg.Aurora.Tenants) > 0 {
		ten = &b.cfg.Aurora.Tenants[0]
		tenant = ten.ID
	}
	if _, ok := b.opts.Tokens[tenant]; ok {
		v := envName("AURORA_API_TOKEN", "LEADBRIDGE_AURORA_API_TOKEN")
		token = "$" + v
		exports = append(exports, v+": the api_token of tenant "+tenant)
	}

	// how the subscription authenticates to ingest: as ingest expects it
	authKey, authRef := "header_auth_key", ""
	authName := "X-Aurora-Webhook-Token"
	switch {
	case ten != nil && ten.WebhookAuth.Basic != nil:
		authKey, authName = "basic_auth_username", ten.WebhookAuth.Basic.Username
		v := envName("AURORA_WEBHOOK_PASSWORD", "LEADBRIDGE_AURORA_WEBHOOK_PASSWORD")
		authRef = "$" + v
		exports = append(exports, v+": a password of webhook_auth.basic.passwords (what ingest accepts)")
	default:
		if ten != nil && ten.WebhookAuth.Header != "" {
			authName = ten.WebhookAuth.Header
		}
		v := envName("AURORA_WEBHOOK_TOKEN", "LEADBRIDGE_AURORA_WEBHOOK_TOKEN")
		authRef = "$" + v
		exports = append(exports, v+": a token of webhook_auth.tokens (what ingest accepts in "+authName+")")
	}
	authValueKey := "header_auth_value"
	if authKey == "basic_auth_username" {
		authValueKey = "basic_auth_password"
	}

	var p bytes.Buffer
	fmt.Fprintf(&p, "leadbridge Aurora sandbox on %s (in memory; interrupt to stop)\n", b.base)
	switch n := len(b.opts.Tokens); {
	case n == 0:
		fmt.Fprintf(&p, "  API tokens:  any non-empty bearer token\n")
	case b.opts.AcceptAnyToken:
		fmt.Fprintf(&p, "  API tokens:  the api_token of %d configured tenant(s); any non-empty token for other tenants\n", n)
	default:
		fmt.Fprintf(&p, "  API tokens:  the api_token of %d configured tenant(s); other tenants are refused\n", n)
	}
	var waits []string
	for _, d := range sandbox.RetrySchedule() {
		waits = append(waits, shortDuration(time.Duration(float64(d)/max(b.opts.RetryCompression, 1))))
	}
	how := "Aurora's schedule"
	if b.opts.RetryCompression > 1 {
		how = fmt.Sprintf("Aurora's schedule compressed %gx", b.opts.RetryCompression)
	}
	fmt.Fprintf(&p, "  webhooks:    retried after %s (%s)\n", strings.Join(waits, ", "), how)
	if b.opts.Latency > 0 {
		fmt.Fprintf(&p, "  latency:     %s per API call\n", b.opts.Latency)
	}
	fmt.Fprintf(&p, "  enrich:      LEADBRIDGE_AURORA_API_URL=%s (or aurora.api_url)\n", b.base)

	bearer := "-H 'Authorization: Bearer " + sandboxAnyToken + "'"
	if token != "" {
		bearer = `-H "Authorization: Bearer ` + token + `"`
	}
	tmpl := b.ingestURL + "/webhooks/aurora/" + tenant + "/lead_created?lead_id=<LEAD_ID>&source=<SOURCE>"
	hook := `{"webhook":{"event":"lead_created","url_template":` + shellJSON(tmpl) +
		`,"` + authKey + `":` + shellJSON(authName) + `,"` + authValueKey + `":"'"` + authRef + `"'"}}`
	lead := `{"lead":{"address":"600 Brannan St, San Francisco, CA, 94107","latitude":37.7796,"longitude":-122.3953,` +
		`"customer":{"customer_first_name":"Ada","customer_last_name":"Lovelace","customer_email":"ada@example.com","customer_phone":"(555) 111-5151"}}}`
	api := b.base + "/tenants/" + tenant

	if len(exports) > 0 {
		fmt.Fprintf(&p, "\nThe commands below read secrets from the shell; export first:\n")
		for _, e := range exports {
			fmt.Fprintf(&p, "  %s\n", e)
		}
	}
	fmt.Fprintf(&p, "\n# 1. Subscribe leadbridge ingest (%s) to lead_created of tenant %s:\n", b.ingestURL, tenant)
	fmt.Fprintf(&p, "curl -sS -X POST '%s/webhooks' %s -H 'Content-Type: application/json' \\\n  -d '%s'\n", api, bearer, hook)
	fmt.Fprintf(&p, "\n# 2. Create a lead; creating it fires lead_created to every subscription, so ingest gets a webhook:\n")
	fmt.Fprintf(&p, "curl -sS -X POST '%s/leads' %s -H 'Content-Type: application/json' \\\n  -d '%s'\n", api, bearer, lead)
	fmt.Fprintf(&p, "\n# 3. Retrieve it as enrich does (the id is in the answer to 2):\n")
	fmt.Fprintf(&p, "curl -sS '%s/leads/<LEAD_ID>' %s\n\n", api, bearer)
	_, err := w.Write(p.Bytes())
	return err
}

// shellJSON is s as a JSON string for the inside of a single-quoted shell word.
func shellJSON(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep <LEAD_ID> and & readable
	_ = enc.Encode(s)        // a string always encodes
	return strings.ReplaceAll(strings.TrimSpace(b.String()), "'", `'\''`)
}

// shortDuration prints 5m and 3h rather than 5m0s and 3h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
