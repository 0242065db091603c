package wire

import (
	"context"
	"fmt"
	"io"
	"net"

	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
)

// SandboxDemoTenant is the tenant of the sandbox banner's examples when none
// is configured: the example id of Aurora's Retrieve Lead documentation.
const SandboxDemoTenant = "3fa85f64-5717-4562-b3fc-2c963f66afa6"

// SandboxTokens are the configured tenants' API tokens: the sandbox demands
// exactly these of them.
func SandboxTokens(cfg config.Config) map[string]string {
	tokens := map[string]string{}
	for _, t := range cfg.Aurora.Tenants {
		if t.APIToken != "" {
			tokens[t.ID] = t.APIToken.Reveal()
		}
	}
	return tokens
}

// Sandbox serves the Aurora sandbox on ln until ctx ends, after printing
// banner on stdout (banner.Base empty: the URL of ln), then stops taking
// calls (in-flight ones finish, for 5 s at most) and abandons pending
// webhook retries.
func Sandbox(ctx context.Context, ln net.Listener, opts sandbox.Options, banner sandbox.Banner, stdout io.Writer, logger *zap.Logger) error {
	if logger == nil {
		logger = zap.NewNop()
	}
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
	err := ServeHandler(ctx, ln, sb.Handler())
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

// SandboxBanner describes the sandbox for its banner: the first configured
// tenant (else SandboxDemoTenant) and where the user most likely holds its
// secrets: the variables the file expands (fromFile), or LEADBRIDGE_*.
func SandboxBanner(cfg config.Config, fromFile bool, opts sandbox.Options, ingestURL, base string) sandbox.Banner {
	b := sandbox.Banner{Base: base, IngestURL: ingestURL, Options: opts, Tenant: SandboxDemoTenant}
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
