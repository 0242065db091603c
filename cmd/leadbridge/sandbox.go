package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

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
	banner := sandboxBanner(cfg, *path != "", opts, strings.TrimRight(*ingestURL, "/"), strings.TrimRight(*publicURL, "/"))
	return serveSandbox(ctx, ln, opts, banner, stdout, logger)
}

// serveSandbox serves the sandbox on ln until ctx ends, then stops taking
// calls (in-flight ones finish, for 5 s at most) and abandons pending
// webhook retries.
func serveSandbox(ctx context.Context, ln net.Listener, opts sandbox.Options, banner sandbox.Banner, stdout io.Writer, logger *zap.Logger) error {
	sb := sandbox.New(opts)
	defer sb.Close()
	if banner.Base == "" { // --public-url unset
		banner.Base = baseURL(ln.Addr())
	}
	if err := banner.Write(stdout); err != nil {
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

// sandboxBanner describes the sandbox for its banner: the first configured
// tenant (else the contract's example one) and where the user most likely
// holds its secrets: the variables the file expands, or LEADBRIDGE_*.
func sandboxBanner(cfg config.Config, fromFile bool, opts sandbox.Options, ingestURL, base string) sandbox.Banner {
	b := sandbox.Banner{Base: base, IngestURL: ingestURL, Options: opts, Tenant: sandboxDemoTenant}
	envName := func(file, env string) string {
		if fromFile {
			return file
		}
		return env
	}
	var ten *config.Tenant
	if len(cfg.Aurora.Tenants) > 0 {
		ten = &cfg.Aurora.Tenants[0]
		b.Tenant = ten.ID
	}
	if _, ok := opts.Tokens[b.Tenant]; ok {
		b.TokenVar = envName("AURORA_API_TOKEN", "LEADBRIDGE_AURORA_API_TOKEN")
		b.Exports = append(b.Exports, b.TokenVar+": the api_token of tenant "+b.Tenant)
	}
	switch {
	case ten != nil && ten.WebhookAuth.Basic != nil:
		b.BasicUser = ten.WebhookAuth.Basic.Username
		b.SecretVar = envName("AURORA_WEBHOOK_PASSWORD", "LEADBRIDGE_AURORA_WEBHOOK_PASSWORD")
		b.Exports = append(b.Exports, b.SecretVar+": a password of webhook_auth.basic.passwords (what ingest accepts)")
	default:
		b.Header = "X-Aurora-Webhook-Token"
		if ten != nil && ten.WebhookAuth.Header != "" {
			b.Header = ten.WebhookAuth.Header
		}
		b.SecretVar = envName("AURORA_WEBHOOK_TOKEN", "LEADBRIDGE_AURORA_WEBHOOK_TOKEN")
		b.Exports = append(b.Exports, b.SecretVar+": a token of webhook_auth.tokens (what ingest accepts in "+b.Header+")")
	}
	return b
}
