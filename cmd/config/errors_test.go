package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/ingest"
)

// secretValue is never printed whole nor by a prefix in any error.
const secretValue = "Zq9xKw7pLm3hunter2"

// Issue 11.1: every secret field, given a value of the wrong shape, from the
// file or from ${VAR}, gives an error that names the key and carries no part
// of the value.
func TestConfigErrorsNeverQuoteSecrets(t *testing.T) {
	fields := map[string]struct {
		yaml   string // %s is the value
		isList bool
	}{
		"kafka.sasl.password":                            {"kafka: {sasl: {mechanism: PLAIN, username: u, password: %s}}\n", false},
		"aurora.tenants[0].api_token":                    {"aurora: {tenants: [{id: t1, api_token: %s}]}\n", false},
		"aurora.tenants[0].webhook_auth.tokens":          {"aurora: {tenants: [{id: t1, webhook_auth: {header: H, tokens: %s}}]}\n", true},
		"aurora.tenants[0].webhook_auth.basic.passwords": {"aurora: {tenants: [{id: t1, webhook_auth: {basic: {username: u, passwords: %s}}}]}\n", true},
		"leadpro.accounts[0].signing_secrets":            {"leadpro: {accounts: [{id: '1', signing_secrets: %s}]}\n", true},
	}
	shapes := map[string]string{"scalar": "%s", "list": "[%s]", "map": "{k: %s}"}
	inputs := map[string]struct {
		value string
		env   map[string]string
	}{
		"file": {secretValue, nil},
		"env":  {`"${LP}"`, map[string]string{"LP": secretValue}},
	}
	for field, f := range fields {
		for shape, form := range shapes {
			if (shape == "list" && f.isList) || (shape == "scalar" && !f.isList) {
				continue // the right shape is not an error
			}
			for input, in := range inputs {
				t.Run(field+"/"+shape+"/"+input, func(t *testing.T) {
					doc := strings.Replace(f.yaml, "%s", strings.Replace(form, "%s", in.value, 1), 1)
					_, err := LoadValid(writeFile(t, "c.yaml", doc), envOf(in.env), Need{Webhooks: true, APITokens: true})
					if err == nil {
						t.Fatalf("no error for %s", doc)
					}
					if strings.Contains(err.Error(), secretValue[:5]) || strings.Contains(err.Error(), "hunter") {
						t.Fatalf("the error carries the secret: %v", err)
					}
					if !strings.Contains(err.Error(), field) {
						t.Errorf("the error does not name %s: %v", field, err)
					}
				})
			}
		}
	}
}

// Issue 11.9: errors say what to fix.
func TestConfigErrorsSayWhatToFix(t *testing.T) {
	missing := "/nonexistent/secret"
	tests := map[string]struct {
		yaml string // empty: no file, env only
		env  map[string]string
		need Need
		want []string
		not  []string
	}{
		"bad duration names its key and line": {
			yaml: "leadpro: {accounts: [{id: '1', signing_secrets: [s]}]}\nhttp:\n  ack_timeout: tenminutes\n",
			want: []string{"line 3: http.ack_timeout: not a duration"}, not: []string{"tenminutes"},
		},
		"syntax error on the right line": {
			yaml: "http:\n  addr: ':1'\n addr2: x\n", want: []string{"line 3:"},
		},
		"http.addr port is a number": {
			yaml: "leadpro: {accounts: [{id: '1', signing_secrets: [s]}]}\nhttp: {addr: '127.0.0.1:notaport'}\n",
			want: []string{"http.addr"},
		},
		"admin and enrich addresses too": {
			yaml: "leadpro: {accounts: [{id: '1', signing_secrets: [s]}]}\nhttp: {admin_addr: 'x:y'}\nenrich: {http_addr: 'nope'}\n",
			want: []string{"http.admin_addr", "enrich.http_addr"},
		},
		"env only names the variables": {
			env:  map[string]string{"LEADBRIDGE_AURORA_TENANT_ID": "t1", "LEADBRIDGE_HTTP_ADDR": "127.0.0.1:notaport"},
			need: Need{Webhooks: true, APITokens: true},
			want: []string{"LEADBRIDGE_AURORA_WEBHOOK_TOKEN", "LEADBRIDGE_HTTP_ADDR", "LEADBRIDGE_AURORA_API_TOKEN"},
			not:  []string{"aurora.tenants", "http.addr"},
		},
		"a number that does not parse, one message": {
			yaml: "leadpro: {accounts: [{id: '1', signing_secrets: [s]}]}\n",
			env:  map[string]string{"LEADBRIDGE_ENRICH_MAX_BATCH": "lots"},
			want: []string{"LEADBRIDGE_ENRICH_MAX_BATCH is not a whole number"},
			not:  []string{"must be positive"},
		},
		"nothing configured says how to configure": {
			need: Need{Webhooks: true},
			want: []string{"--config", "LEADBRIDGE_CONFIG", "LEADBRIDGE_AURORA_TENANT_ID"},
		},
		"enrich with nothing configured": {need: Need{APITokens: true}, want: []string{"nothing is configured"}},
		"topics with nothing configured": {need: Need{Configured: true}, want: []string{"nothing is configured"}},
		// No request can carry such a header: every delivery would be a 401.
		"a webhook header that is no header name": {
			yaml: "aurora: {tenants: [{id: t1, webhook_auth: {header: 'X-Aurora-Webhook-Token:', tokens: [tok]}}]}\n",
			want: []string{`aurora.tenants[0].webhook_auth.header: "X-Aurora-Webhook-Token:" is not an HTTP header name`},
		},
		"a webhook header that is no header name, env only": {
			env: map[string]string{"LEADBRIDGE_AURORA_TENANT_ID": "t1", "LEADBRIDGE_AURORA_WEBHOOK_TOKEN": "tok",
				"LEADBRIDGE_AURORA_WEBHOOK_HEADER": "X Aurora Token"},
			want: []string{`LEADBRIDGE_AURORA_WEBHOOK_HEADER: "X Aurora Token" is not an HTTP header name`},
		},
		// An unset ${VAR} is reported once, as "${X} is not set": the
		// emptiness it leaves is not reported again for the same field, and
		// every other problem still is.
		"an unset variable, one message": {
			yaml: "aurora: {tenants: [{id: t1, api_token: '${NO_API}', webhook_auth: {header: H, tokens: ['${NO_HOOK}']}},\n" +
				"  {id: t2, api_token: a, webhook_auth: {header: H, tokens: [x], basic: {username: u, passwords: ['${NO_PASS}']}}}]}\n" +
				"leadpro: {accounts: [{id: '${NO_ID}', signing_secrets: ['${NO_SECRET}']}, {id: '2', signing_secrets: ['']}]}\n" +
				"kafka: {brokers: ['${NO_BROKER}'], sasl: {mechanism: PLAIN, username: u, password: '${NO_SASL}'}}\n" +
				"topics: {raw: '${NO_RAW}', leads: 'bad topic'}\nenrich: {group_id: '${NO_GROUP}'}\n",
			need: Need{Webhooks: true, APITokens: true},
			want: []string{"${NO_API} is not set", "${NO_HOOK} is not set", "${NO_PASS} is not set", "${NO_ID} is not set",
				"${NO_SECRET} is not set", "${NO_BROKER} is not set", "${NO_SASL} is not set", "${NO_RAW} is not set", "${NO_GROUP} is not set",
				"aurora.tenants[1].webhook_auth: give header or basic, not both", "leadpro.accounts[1].signing_secrets: at least one non-empty secret",
				`topics.leads: "bad topic" is not a valid topic name`},
			not: []string{"aurora.tenants[0]", "leadpro.accounts[0]", "kafka.brokers", "kafka.sasl", "topics.raw", "enrich.group_id"},
		},
		"a missing secret file, one message": {
			yaml: "aurora: {tenants: [{id: t1, api_token_file: " + missing + ", webhook_auth: {header: H, tokens_file: " + missing + "}}]}\n",
			want: []string{"aurora.tenants[0].api_token_file: cannot read " + missing, "aurora.tenants[0].webhook_auth.tokens_file: cannot read " + missing},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := ""
			if tc.yaml != "" {
				path = writeFile(t, "c.yaml", tc.yaml)
			}
			need := tc.need
			if need == (Need{}) {
				need = Need{Webhooks: true}
			}
			_, err := LoadValid(path, envOf(tc.env), need)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("error has %q:\n%v", n, err)
				}
			}
		})
	}
}

// Valid listen addresses stay valid.
func TestListenAddresses(t *testing.T) {
	for _, addr := range []string{":8080", "127.0.0.1:0", "[::1]:9000", "0.0.0.0:65535"} {
		c := Default()
		c.HTTP.Addr, c.HTTP.AdminAddr, c.Enrich.HTTPAddr = addr, addr, addr
		if err := c.Validate(Need{}); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

// The defaults of ingest and enrich are theirs, read from them: one place
// each (max_in_flight once disagreed, 256 here and 64 in enrich).
func TestDefaultsComeFromThePackages(t *testing.T) {
	c, e := Default(), enrich.DefaultConfig()
	if c.Enrich.MaxInFlight != e.MaxInFlight || c.Enrich.RequestTimeout != e.RequestTimeout || c.Enrich.RetryFor != e.RetryFor ||
		c.Enrich.NotFoundRetryFor != e.NotFoundRetryFor || c.Enrich.ShutdownGrace != e.ShutdownGrace ||
		c.Enrich.MaxOutstanding != e.MaxOutstanding || c.Enrich.MaxBatch != e.MaxBatch || c.Enrich.LagInterval != e.LagInterval ||
		c.Aurora.RequestsPerMinute != e.RequestsPerMinute {
		t.Errorf("enrich defaults differ: loader %+v, enrich %+v", c.Enrich, e)
	}
	if c.HTTP.AckTimeout != ingest.DefaultAckTimeout || c.HTTP.MaxBodyBytes != ingest.DefaultMaxBodyBytes {
		t.Errorf("ingest defaults differ: %+v", c.HTTP)
	}
}

// The configuration file and every file it names are read up to
// MaxFileBytes: a file over it (a wrong path to a log, a device) is refused
// without being read whole; a file at the limit loads.
func TestFilesAreReadUpToTheLimit(t *testing.T) {
	pad := func(n int) string { return "#" + strings.Repeat("x", n-2) + "\n" } // a YAML comment of n bytes
	head := "leadpro: {accounts: [{id: '1', signing_secrets_file: %s}]}\n"
	secrets := writeFile(t, "secrets", "s1\n")
	atLimit := writeFile(t, "at.yaml", strings.Replace(head, "%s", secrets, 1)+pad(MaxFileBytes-len(head)-len(secrets)+2))
	if _, err := LoadValid(atLimit, envOf(nil), Need{Webhooks: true}); err != nil {
		t.Fatalf("a file of MaxFileBytes is refused: %v", err)
	}
	over := writeFile(t, "over.yaml", strings.Replace(head, "%s", secrets, 1)+pad(MaxFileBytes))
	_, err := LoadValid(over, envOf(nil), Need{Webhooks: true})
	if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "over") {
		t.Fatalf("a config file over MaxFileBytes: %v", err)
	}
	big := writeFile(t, "big-secrets", strings.Repeat("s\n", MaxFileBytes))
	_, err = LoadValid(writeFile(t, "c.yaml", strings.Replace(head, "%s", big, 1)), envOf(nil), Need{Webhooks: true})
	if err == nil || !strings.Contains(err.Error(), "leadpro.accounts[0].signing_secrets_file: cannot read "+big+": over") {
		t.Fatalf("a secret file over MaxFileBytes: %v", err)
	}
}
