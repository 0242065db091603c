package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var exampleEnv = map[string]string{
	"AURORA_API_TOKEN":       "api-token-value-1",
	"AURORA_WEBHOOK_TOKEN":   "webhook-token-value-2",
	"LEADPRO_SIGNING_SECRET": "signing-secret-value-3",
}

func writeFile(tb testing.TB, name, content string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestLoadContractExample(t *testing.T) {
	cfg, err := Load("testdata/leadbridge.yaml", envOf(exampleEnv))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(Need{Webhooks: true, APITokens: true}); err != nil {
		t.Fatal(err)
	}
	ten := cfg.Aurora.Tenants[0]
	if ten.APIToken.Reveal() != "api-token-value-1" || ten.WebhookAuth.Tokens[0].Reveal() != "webhook-token-value-2" ||
		cfg.LeadPro.Accounts[0].SigningSecrets[0].Reveal() != "signing-secret-value-3" {
		t.Fatalf("secrets not expanded: %+v", cfg)
	}
	if cfg.Topics.Partitions != 12 || cfg.HTTP.AckTimeout != 8*time.Second || cfg.Enrich.GroupID != "leadbridge-enrich" {
		t.Fatalf("values or defaults wrong: %+v", cfg)
	}
	for _, s := range []string{"api-token-value-1", "webhook-token-value-2", "signing-secret-value-3"} {
		if strings.Contains(fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), s) {
			t.Fatalf("a %%v of the config prints a secret")
		}
	}
}

func TestLoadConfig(t *testing.T) {
	secretFile := writeFile(t, "tok", "from-file-token\n")
	multi := writeFile(t, "multi", "first-secret\n\nsecond-secret\n")
	tests := map[string]struct {
		yaml  string
		env   map[string]string
		check func(t *testing.T, c Config)
		errs  []string // every one must appear
	}{
		"int from env": {
			yaml: "topics:\n  partitions: ${P}\n", env: map[string]string{"P": "3"},
			check: func(t *testing.T, c Config) {
				if c.Topics.Partitions != 3 {
					t.Fatalf("partitions %d", c.Topics.Partitions)
				}
			},
		},
		"dollar escape": {
			yaml: "aurora: {tenants: [{id: t1, api_token: 'a$$b'}]}\n",
			check: func(t *testing.T, c Config) {
				if c.Aurora.Tenants[0].APIToken.Reveal() != "a$b" {
					t.Fatal("$$ is not a literal $")
				}
			},
		},
		"value with yaml syntax from env": {
			yaml: "aurora:\n  tenants:\n    - id: t1\n      api_token: ${T}\n", env: map[string]string{"T": "a: b, [c]"},
			check: func(t *testing.T, c Config) {
				if c.Aurora.Tenants[0].APIToken.Reveal() != "a: b, [c]" {
					t.Fatal("expanded value was re-parsed as YAML")
				}
			},
		},
		"_file secrets": {
			yaml: "aurora: {tenants: [{id: t1, api_token_file: " + secretFile + ", webhook_auth: {header: X-T, tokens_file: " + multi + "}}]}\n" +
				"leadpro: {accounts: [{id: '1', signing_secrets_file: " + multi + "}]}\n",
			check: func(t *testing.T, c Config) {
				ten := c.Aurora.Tenants[0]
				if ten.APIToken.Reveal() != "from-file-token" || len(ten.WebhookAuth.Tokens) != 2 ||
					ten.WebhookAuth.Tokens[1].Reveal() != "second-secret" || len(c.LeadPro.Accounts[0].SigningSecrets) != 2 {
					t.Fatalf("file secrets not read: %d tokens", len(ten.WebhookAuth.Tokens))
				}
			},
		},
		"every problem at once": {
			yaml: "kafka: {brokers: [nohost], sasl: {mechanism: GSSAPI}}\n" +
				"topics: {raw: 'bad topic', partitions: 0}\n" +
				"aurora: {api_url: 'ftp://x', tenants: [{id: t1, api_token: '${MISSING_TOKEN}'}]}\n" +
				"leadpro: {accounts: [{id: '1'}]}\n" +
				"htp: {addr: ':1'}\n",
			errs: []string{"${MISSING_TOKEN} is not set", "unknown key htp", `"nohost" is not host:port`,
				"GSSAPI", "topics.raw", "partitions must be at least 1", "aurora.api_url",
				"aurora.tenants[0].webhook_auth", "leadpro.accounts[0].signing_secrets"},
		},
		"nested unknown key": {yaml: "aurora: {tenants: [{id: t1, webhook_auth: {headr: X}}]}\n", errs: []string{"unknown key aurora.tenants[0].webhook_auth.headr"}},
		"both secret and file": {
			yaml: "aurora: {tenants: [{id: t1, api_token: x, api_token_file: " + secretFile + ", webhook_auth: {header: H, tokens: [y]}}]}\n",
			errs: []string{"not both"},
		},
		"missing secret file": {
			yaml: "leadpro: {accounts: [{id: '1', signing_secrets_file: /nonexistent/secret}]}\n",
			errs: []string{"cannot read /nonexistent/secret"},
		},
		"header and basic": {
			yaml: "aurora: {tenants: [{id: t1, webhook_auth: {header: H, tokens: [x], basic: {username: u, passwords: [p]}}}]}\n",
			errs: []string{"header or basic, not both"},
		},
		"duplicate tenant": {
			yaml: "aurora: {tenants: [{id: t1, webhook_auth: {header: H, tokens: [x]}}, {id: t1, webhook_auth: {header: H, tokens: [x]}}]}\n",
			errs: []string{"listed twice"},
		},
		"ingest's log and token keys": {
			yaml: "log: {access: all, slow: 250ms}\nleadpro: {max_token_age: 1h}\n",
			check: func(t *testing.T, c Config) {
				if c.Log.Access != "all" || c.Log.Slow != 250*time.Millisecond || c.LeadPro.MaxTokenAge != time.Hour {
					t.Fatalf("log %+v max_token_age %v", c.Log, c.LeadPro.MaxTokenAge)
				}
			},
		},
		"ingest's log defaults": {
			yaml: "log: {level: info}\n",
			check: func(t *testing.T, c Config) {
				if c.Log.Access != "errors" || c.Log.Slow != time.Second || c.LeadPro.MaxTokenAge != 0 {
					t.Fatalf("log %+v max_token_age %v", c.Log, c.LeadPro.MaxTokenAge)
				}
			},
		},
		"bad log access": {
			yaml: "log: {access: some, slow: 0s}\nleadpro: {max_token_age: -1s, accounts: [{id: '1', signing_secrets: [s]}]}\n",
			errs: []string{"log.access", "log.slow", "leadpro.max_token_age"},
		},
		"enrich's memory bound and batch": {
			yaml: "enrich: {max_outstanding: 2000, max_batch: 100, lag_interval: 2s}\n",
			env:  map[string]string{"LEADBRIDGE_ENRICH_MAX_OUTSTANDING": "3000"},
			check: func(t *testing.T, c Config) {
				if c.Enrich.MaxOutstanding != 3000 || c.Enrich.MaxBatch != 100 || c.Enrich.LagInterval != 2*time.Second {
					t.Fatalf("max_outstanding %d max_batch %d lag_interval %v", c.Enrich.MaxOutstanding, c.Enrich.MaxBatch, c.Enrich.LagInterval)
				}
			},
		},
		"bad enrich bounds": {
			yaml: "enrich: {max_outstanding: 0, max_batch: -1}\nleadpro: {accounts: [{id: '1', signing_secrets: [s]}]}\n",
			errs: []string{"max_outstanding, max_batch and lag_interval must be positive"},
		},
		"enrich's group times": {
			yaml: "enrich: {session_timeout: 1s, heartbeat_interval: 900ms}\nleadpro: {accounts: [{id: '1', signing_secrets: [s]}]}\n",
			errs: []string{"heartbeat_interval 900ms must be at most a third of session_timeout 1s"},
		},
		"enrich's heartbeat against the default session": {
			yaml: "enrich: {heartbeat_interval: 3s}\nleadpro: {accounts: [{id: '1', signing_secrets: [s]}]}\n",
			errs: []string{"heartbeat_interval 3s must be at most a third of session_timeout 6s"},
		},
		"negative enrich group times": {
			yaml: "enrich: {session_timeout: -1s}\nleadpro: {accounts: [{id: '1', signing_secrets: [s]}]}\n",
			errs: []string{"session_timeout and heartbeat_interval must not be negative"},
		},
		"enrich's transaction window": {
			yaml: "enrich: {batch_for: 4s, transaction_timeout: 10s}\n",
			check: func(t *testing.T, c Config) {
				if c.Enrich.BatchFor != 4*time.Second || c.Enrich.TransactionTimeout != 10*time.Second {
					t.Fatalf("batch_for %v transaction_timeout %v", c.Enrich.BatchFor, c.Enrich.TransactionTimeout)
				}
			},
		},
		"enrich's transaction window defaults": {
			yaml: "enrich: {group_id: g}\n",
			check: func(t *testing.T, c Config) {
				if c.Enrich.BatchFor != 2*time.Second || c.Enrich.TransactionTimeout != 8*time.Second {
					t.Fatalf("batch_for %v transaction_timeout %v", c.Enrich.BatchFor, c.Enrich.TransactionTimeout)
				}
			},
		},
		"batch_for over half the transaction timeout": {
			yaml: "enrich: {batch_for: 5s}\nleadpro: {accounts: [{id: '1', signing_secrets: [s]}]}\n",
			errs: []string{"batch_for 5s must be at most half of transaction_timeout 8s"},
		},
		"ack timeout past Aurora's deadline": {yaml: "http: {ack_timeout: 12s}\nleadpro: {accounts: [{id: '1', signing_secrets: [s]}]}\n", errs: []string{"ack_timeout"}},
		"not yaml":                           {yaml: "kafka: [\n", errs: []string{"not valid YAML"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, "c.yaml", tc.yaml)
			cfg, err := Load(p, envOf(tc.env))
			if tc.errs == nil {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, cfg)
				return
			}
			_, err = LoadValid(p, envOf(tc.env), Need{Webhooks: true, APITokens: true})
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tc.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestEnvOnlyConfig(t *testing.T) {
	env := map[string]string{
		"LEADBRIDGE_KAFKA_BROKERS":          "k1:9092, k2:9092",
		"LEADBRIDGE_TOPIC_RAW":              "raw.x",
		"LEADBRIDGE_HTTP_ADDR":              "127.0.0.1:9999",
		"LEADBRIDGE_AURORA_TENANT_ID":       "t1",
		"LEADBRIDGE_AURORA_API_TOKEN":       "api",
		"LEADBRIDGE_AURORA_WEBHOOK_TOKEN":   "new,old",
		"LEADBRIDGE_LEADPRO_ACCOUNT_ID":     "9999",
		"LEADBRIDGE_LEADPRO_SIGNING_SECRET": "sig",
	}
	cfg, err := Load("", envOf(env))
	if err == nil {
		err = cfg.Validate(Need{Webhooks: true, APITokens: true})
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Kafka.Brokers) != 2 || cfg.Topics.Raw != "raw.x" || cfg.HTTP.Addr != "127.0.0.1:9999" ||
		cfg.Aurora.Tenants[0].WebhookAuth.Header != "X-Aurora-Webhook-Token" || len(cfg.Aurora.Tenants[0].WebhookAuth.Tokens) != 2 ||
		cfg.LeadPro.Accounts[0].ID != "9999" {
		t.Fatalf("env-only config: %+v", cfg)
	}
}

// No secret reaches an error message, even when the config is wrong around it.
func TestConfigErrorsCarryNoSecrets(t *testing.T) {
	// An api_url that does not validate may carry a password or a key.
	p := writeFile(t, "c.yaml", "aurora: {api_url: 'htps://user:topsecret-4@api.example.com/?key=topsecret-5', "+
		"tenants: [{id: 't 1', api_token: topsecret-1, webhook_auth: {header: '', tokens: [topsecret-2, '']}}]}\n"+
		"kafka: {sasl: {mechanism: PLAIN, password: topsecret-3}}\n")
	_, err := LoadValid(p, envOf(nil), Need{Webhooks: true, APITokens: true})
	if err == nil {
		t.Fatal("want errors")
	}
	if strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("error leaks a secret: %v", err)
	}
}

func TestKnows(t *testing.T) {
	c := Default()
	c.Aurora.Tenants = []Tenant{{ID: "t1"}}
	c.LeadPro.Accounts = []Account{{ID: "9999"}}
	tests := map[string]struct {
		provider, owner string
		want            bool
	}{
		"aurora tenant":            {"aurora", "t1", true},
		"leadpro account":          {"leadpro", "9999", true},
		"unknown tenant":           {"aurora", "t2", false},
		"account as aurora tenant": {"aurora", "9999", false},
		"tenant as leadpro":        {"leadpro", "t1", false},
		"unknown provider":         {"other", "t1", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := c.Knows(tc.provider, tc.owner); got != tc.want {
				t.Fatalf("Knows(%q, %q) = %v, want %v", tc.provider, tc.owner, got, tc.want)
			}
		})
	}
}
