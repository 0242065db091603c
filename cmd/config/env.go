package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode"

	"github.com/leadbridge/leadbridge/schema"
)

// fromEnv builds the single-tenant configuration from environment variables
// alone (README "Configure it").
func fromEnv(getenv func(string) string, cfg *Config) []error {
	if id := getenv("LEADBRIDGE_AURORA_TENANT_ID"); id != "" {
		cfg.given = true
		t := Tenant{ID: id, APIToken: schema.Secret(getenv("LEADBRIDGE_AURORA_API_TOKEN")),
			APITokenFile: getenv("LEADBRIDGE_AURORA_API_TOKEN_FILE")}
		const p = "aurora.tenants[0]"
		cfg.from[p+".id"] = "LEADBRIDGE_AURORA_TENANT_ID"
		cfg.from[p+".api_token"] = "LEADBRIDGE_AURORA_API_TOKEN"
		if user := getenv("LEADBRIDGE_AURORA_WEBHOOK_USERNAME"); user != "" {
			t.WebhookAuth.Basic = &Basic{Username: user,
				Passwords:     SecretList(getenv("LEADBRIDGE_AURORA_WEBHOOK_PASSWORD")),
				PasswordsFile: getenv("LEADBRIDGE_AURORA_WEBHOOK_PASSWORD_FILE")}
			cfg.from[p+".webhook_auth"] = "LEADBRIDGE_AURORA_WEBHOOK_USERNAME and LEADBRIDGE_AURORA_WEBHOOK_PASSWORD"
			cfg.from[p+".webhook_auth.basic"] = cfg.from[p+".webhook_auth"]
			cfg.from[p+".webhook_auth.basic.passwords"] = "LEADBRIDGE_AURORA_WEBHOOK_PASSWORD"
		} else {
			t.WebhookAuth.Header = cmp.Or(getenv("LEADBRIDGE_AURORA_WEBHOOK_HEADER"), "X-Aurora-Webhook-Token")
			t.WebhookAuth.Tokens = SecretList(getenv("LEADBRIDGE_AURORA_WEBHOOK_TOKEN"))
			t.WebhookAuth.TokensFile = getenv("LEADBRIDGE_AURORA_WEBHOOK_TOKEN_FILE")
			cfg.from[p+".webhook_auth"] = "LEADBRIDGE_AURORA_WEBHOOK_TOKEN"
			cfg.from[p+".webhook_auth.tokens"] = "LEADBRIDGE_AURORA_WEBHOOK_TOKEN"
			cfg.from[p+".webhook_auth.header"] = "LEADBRIDGE_AURORA_WEBHOOK_HEADER"
		}
		cfg.Aurora.Tenants = []Tenant{t}
	}
	if id := getenv("LEADBRIDGE_LEADPRO_ACCOUNT_ID"); id != "" {
		cfg.given = true
		cfg.LeadPro.Accounts = []Account{{ID: id,
			SigningSecrets:     SecretList(getenv("LEADBRIDGE_LEADPRO_SIGNING_SECRET")),
			SigningSecretsFile: getenv("LEADBRIDGE_LEADPRO_SIGNING_SECRET_FILE")}}
		cfg.from["leadpro.accounts[0].id"] = "LEADBRIDGE_LEADPRO_ACCOUNT_ID"
		cfg.from["leadpro.accounts[0].signing_secrets"] = "LEADBRIDGE_LEADPRO_SIGNING_SECRET"
	}
	return nil
}

// overrideFromEnv applies the LEADBRIDGE_* variables README "Configure it"
// names next to each setting; they win over the file.
func overrideFromEnv(getenv func(string) string, cfg *Config) []error {
	var errs []error
	if v := getenv("LEADBRIDGE_KAFKA_BROKERS"); v != "" {
		cfg.Kafka.Brokers = SplitList(v)
		cfg.from["kafka.brokers"] = "LEADBRIDGE_KAFKA_BROKERS"
		cfg.given = true
	}
	for _, o := range []struct {
		name, key string
		dst       *string
	}{
		{"LEADBRIDGE_TOPIC_RAW", "topics.raw", &cfg.Topics.Raw},
		{"LEADBRIDGE_TOPIC_LEADS", "topics.leads", &cfg.Topics.Leads},
		{"LEADBRIDGE_TOPIC_DLQ", "topics.dlq", &cfg.Topics.DLQ},
		{"LEADBRIDGE_TOPIC_ERASURES", "topics.erasures", &cfg.Topics.Erasures},
		{"LEADBRIDGE_TOPIC_STATE", "topics.state", &cfg.Topics.State},
		{"LEADBRIDGE_TOPIC_RETRY", "topics.retry", &cfg.Topics.Retry},
		{"LEADBRIDGE_HTTP_ADDR", "http.addr", &cfg.HTTP.Addr},
		{"LEADBRIDGE_HTTP_ADMIN_ADDR", "http.admin_addr", &cfg.HTTP.AdminAddr},
		{"LEADBRIDGE_AURORA_API_URL", "aurora.api_url", &cfg.Aurora.APIURL},
		{"LEADBRIDGE_ENRICH_GROUP", "enrich.group_id", &cfg.Enrich.GroupID},
		{"LEADBRIDGE_ENRICH_HTTP_ADDR", "enrich.http_addr", &cfg.Enrich.HTTPAddr},
		{"LEADBRIDGE_ENRICH_TRANSACTIONAL_ID", "enrich.transactional_id", &cfg.Enrich.TransactionalID},
		{"LEADBRIDGE_LOG_LEVEL", "log.level", &cfg.Log.Level},
		{"LEADBRIDGE_LOG_ACCESS", "log.access", &cfg.Log.Access},
	} {
		if v := getenv(o.name); v != "" {
			*o.dst = v
			cfg.from[o.key] = o.name
			cfg.given = true
		}
	}
	for _, o := range []struct {
		name, key string
		dst       *int
	}{
		{"LEADBRIDGE_AURORA_REQUESTS_PER_MINUTE", "aurora.requests_per_minute", &cfg.Aurora.RequestsPerMinute},
		{"LEADBRIDGE_HTTP_MAX_CONNECTIONS", "http.max_connections", &cfg.HTTP.MaxConnections},
		{"LEADBRIDGE_ENRICH_MAX_OUTSTANDING", "enrich.max_outstanding", &cfg.Enrich.MaxOutstanding},
		{"LEADBRIDGE_ENRICH_MAX_BATCH", "enrich.max_batch", &cfg.Enrich.MaxBatch},
	} {
		if v := getenv(o.name); v != "" {
			cfg.given = true
			n, err := strconv.Atoi(v)
			if err != nil {
				// One error, not a second about the 0 it would leave.
				errs = append(errs, fmt.Errorf("%s is not a whole number", o.name))
				continue
			}
			*o.dst = n
			cfg.from[o.key] = o.name
		}
	}
	if v := getenv("LEADBRIDGE_ENRICH_EXACTLY_ONCE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, errors.New("LEADBRIDGE_ENRICH_EXACTLY_ONCE is not true or false"))
		}
		cfg.Enrich.ExactlyOnce = &b
		cfg.from["enrich.exactly_once"] = "LEADBRIDGE_ENRICH_EXACTLY_ONCE"
		cfg.given = true
	}
	return errs
}

// readSecretFiles reads the *_file secrets. A file that cannot be read gives
// one message whatever the field: "<key>_file: cannot read <path>".
func readSecretFiles(cfg *Config) []error {
	var errs []error
	read := func(key, file string) []schema.Secret {
		vals, err := readLines(file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s_file: %w", key, err))
		}
		return vals
	}
	one := func(key string, dst *schema.Secret, file string) {
		if file == "" {
			return
		}
		if *dst != "" {
			errs = append(errs, fmt.Errorf("%s: give the secret or its _file, not both", key))
			return
		}
		vals := read(key, file)
		switch {
		case vals == nil:
		case len(vals) != 1:
			errs = append(errs, fmt.Errorf("%s_file: %s holds %d lines, want one secret", key, file, len(vals)))
		default:
			*dst = vals[0]
		}
	}
	many := func(key string, dst *[]schema.Secret, file string) {
		if file != "" {
			*dst = append(*dst, read(key, file)...)
		}
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
	b, err := ReadFile(path)
	if err != nil {
		if _, ok := errors.AsType[*os.PathError](err); ok {
			return nil, errors.New("cannot read " + path)
		}
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	out := []schema.Secret{}
	for l := range strings.SplitSeq(string(b), "\n") {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			out = append(out, schema.Secret(l))
		}
	}
	return out, nil
}

// SplitList splits a comma separated list, trimming spaces and dropping
// empty items: the form of LEADBRIDGE_KAFKA_BROKERS and of list flags.
func SplitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// SecretList is SplitList for secrets.
func SecretList(s string) []schema.Secret {
	var out []schema.Secret
	for _, p := range SplitList(s) {
		out = append(out, schema.Secret(p))
	}
	return out
}
