package wire

import (
	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/enrich/aurora/subscription"
	"github.com/leadbridge/leadbridge/enrich/operate"
)

// OperateTopics are the configured topic names the operator commands
// (status, dlq redrive, replay, forget) use.
func OperateTopics(cfg config.Config) operate.Topics {
	return operate.Topics{Raw: cfg.Topics.Raw, Leads: cfg.Topics.Leads, DLQ: cfg.Topics.DLQ, Retry: cfg.Topics.Retry, Erasures: cfg.Topics.Erasures}
}

// SubscriptionTenants takes each tenant's API token and first webhook
// credential: the one Aurora is told to send.
func SubscriptionTenants(cfg config.Config) []subscription.Tenant {
	var out []subscription.Tenant
	for _, t := range cfg.Aurora.Tenants {
		st := subscription.Tenant{ID: t.ID, APIToken: t.APIToken, HeaderKey: t.WebhookAuth.Header}
		if b := t.WebhookAuth.Basic; b != nil {
			st.BasicUsername = b.Username
			if len(b.Passwords) > 0 {
				st.BasicPassword = b.Passwords[0]
			}
		} else if len(t.WebhookAuth.Tokens) > 0 {
			st.HeaderValue = t.WebhookAuth.Tokens[0]
		}
		out = append(out, st)
	}
	return out
}
