package wire

import (
	"net"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

func TestSandboxBaseURL(t *testing.T) {
	tests := map[string]struct {
		addr net.Addr
		want string
	}{
		"loopback":    {&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8090}, "http://127.0.0.1:8090"},
		"unspecified": {&net.TCPAddr{IP: net.IPv4zero, Port: 8090}, "http://127.0.0.1:8090"},
		"ipv6 any":    {&net.TCPAddr{IP: net.IPv6unspecified, Port: 8090}, "http://127.0.0.1:8090"},
		"ipv6":        {&net.TCPAddr{IP: net.IPv6loopback, Port: 8090}, "http://[::1]:8090"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := baseURL(tc.addr); got != tc.want {
				t.Fatalf("baseURL(%s) = %s, want %s", tc.addr, got, tc.want)
			}
		})
	}
}

func TestSandboxBanner(t *testing.T) {
	header := config.Tenant{ID: "t-header", APIToken: "api-secret", WebhookAuth: config.WebhookAuth{Header: "X-Hook"}}
	basic := config.Tenant{ID: "t-basic", WebhookAuth: config.WebhookAuth{Basic: &config.Basic{Username: "aurora"}}}
	// banner holds the fields of sandbox.Banner the configuration decides.
	type banner struct{ Tenant, Header, BasicUser, TokenVar, SecretVar string }
	tests := map[string]struct {
		tenants  []config.Tenant
		fromFile bool
		want     banner
	}{
		"nothing configured": {nil, false, banner{Tenant: SandboxDemoTenant, Header: "X-Aurora-Webhook-Token",
			SecretVar: "LEADBRIDGE_AURORA_WEBHOOK_TOKEN"}},
		"header, from env": {[]config.Tenant{header}, false, banner{Tenant: "t-header", Header: "X-Hook",
			TokenVar: "LEADBRIDGE_AURORA_API_TOKEN", SecretVar: "LEADBRIDGE_AURORA_WEBHOOK_TOKEN"}},
		"header, from file": {[]config.Tenant{header}, true, banner{Tenant: "t-header", Header: "X-Hook",
			TokenVar: "AURORA_API_TOKEN", SecretVar: "AURORA_WEBHOOK_TOKEN"}},
		"basic": {[]config.Tenant{basic, header}, true, banner{Tenant: "t-basic", BasicUser: "aurora",
			SecretVar: "AURORA_WEBHOOK_PASSWORD"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Aurora.Tenants = tc.tenants
			opts := sandbox.Options{Tokens: SandboxTokens(cfg)}
			b := SandboxBanner(cfg, tc.fromFile, opts, "http://ingest", "")
			got := banner{Tenant: b.Tenant, Header: b.Header, BasicUser: b.BasicUser, TokenVar: b.TokenVar, SecretVar: b.SecretVar}
			if got != tc.want {
				t.Fatalf("banner %+v, want %+v", got, tc.want)
			}
			if b.IngestURL != "http://ingest" || len(b.Exports) == 0 {
				t.Fatalf("banner ingest URL %q, exports %q", b.IngestURL, b.Exports)
			}
			for _, e := range b.Exports {
				if strings.Contains(e, "api-secret") {
					t.Fatalf("an export line holds the secret: %q", e)
				}
			}
		})
	}
}

func TestSandboxTokens(t *testing.T) {
	cfg := config.Default()
	cfg.Aurora.Tenants = []config.Tenant{{ID: "a", APIToken: schema.Secret("tok-a")}, {ID: "b"}}
	got := SandboxTokens(cfg)
	if len(got) != 1 || got["a"] != "tok-a" {
		t.Fatalf("tokens %v, want only a's", got)
	}
}
