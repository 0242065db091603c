package main

import (
	"context"
	"io"
	"strings"

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
	switch {
	case *compression < 1:
		return usagef("--retry-compression must be at least 1")
	case *latency < 0:
		return usagef("--latency must not be negative")
	}
	// The banner pastes both into shell commands: no quotes, no expansions.
	if _, ok := httpURL(*ingestURL); !ok || strings.ContainsAny(*ingestURL, `'"\$`) {
		return usagef("--ingest-url: %q is not an http(s) URL", *ingestURL)
	}
	if _, ok := httpURL(*publicURL); *publicURL != "" && (!ok || strings.ContainsAny(*publicURL, `'"\$`)) {
		return usagef("--public-url: %q is not an http(s) URL", *publicURL)
	}
	cfg, err := loadValid(*path, getenv, need{})
	if err != nil {
		return err
	}
	tokens := wire.SandboxTokens(cfg)
	if !fs.isSet("any-token") {
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
	banner := wire.SandboxBanner(cfg, *path != "", opts, strings.TrimRight(*ingestURL, "/"), strings.TrimRight(*publicURL, "/"))
	return wire.Sandbox(ctx, ln, opts, banner, stdout, logger)
}
