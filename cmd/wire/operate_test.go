package wire

import (
	"testing"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/enrich/aurora/subscription"
	"github.com/leadbridge/leadbridge/schema"
)

// Aurora is told to send each tenant's first credential: basic auth when
// the tenant has it, else its first header token.
func TestSubscriptionTenants(t *testing.T) {
	cfg := config.Default()
	cfg.Aurora.Tenants = []config.Tenant{
		{ID: "h", APIToken: "api-h", WebhookAuth: config.WebhookAuth{Header: "X-Hook", Tokens: []schema.Secret{"first", "second"}}},
		{ID: "b", APIToken: "api-b", WebhookAuth: config.WebhookAuth{Basic: &config.Basic{Username: "u", Passwords: []schema.Secret{"p1", "p2"}}}},
		{ID: "none", APIToken: "api-n"},
	}
	want := []subscription.Tenant{
		{ID: "h", APIToken: "api-h", HeaderKey: "X-Hook", HeaderValue: "first"},
		{ID: "b", APIToken: "api-b", BasicUsername: "u", BasicPassword: "p1"},
		{ID: "none", APIToken: "api-n"},
	}
	got := SubscriptionTenants(cfg)
	if len(got) != len(want) {
		t.Fatalf("got %d tenants, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("tenant %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestOperateTopics(t *testing.T) {
	cfg := config.Default()
	cfg.Topics.Raw, cfg.Topics.Erasures = "my.raw", "my.erasures"
	got := OperateTopics(cfg)
	if got.Raw != "my.raw" || got.Erasures != "my.erasures" || got.Leads != cfg.Topics.Leads ||
		got.DLQ != cfg.Topics.DLQ || got.Retry != cfg.Topics.Retry {
		t.Fatalf("OperateTopics = %+v from %+v", got, cfg.Topics)
	}
}
