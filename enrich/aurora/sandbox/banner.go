package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// AnyToken is the bearer token the banner's examples use when any is accepted.
const AnyToken = "sandbox-token"

// Banner is what `leadbridge sandbox aurora` prints on start: what the
// sandbox serves and curl commands that work against it as they are.
// Secrets never appear: the commands expand shell variables the user
// exports, and the banner says which.
type Banner struct {
	Base      string  // where the user reaches the sandbox
	IngestURL string  // the leadbridge ingest subscriptions point at
	Options   Options // the sandbox's
	Tenant    string  // the tenant of the examples
	TokenVar  string  // shell variable holding Tenant's API token; empty: AnyToken
	// How the example subscription authenticates to ingest: basic auth as
	// BasicUser, else the header Header; SecretVar holds the password or token.
	BasicUser, Header, SecretVar string
	Exports                      []string // "VAR: what it holds", said before the commands
}

// Write prints the banner.
func (b Banner) Write(w io.Writer) error {
	tenant := b.Tenant
	token := ""
	if b.TokenVar != "" {
		token = "$" + b.TokenVar
	}
	authKey, authName, authValueKey := "header_auth_key", b.Header, "header_auth_value"
	if b.BasicUser != "" {
		authKey, authName, authValueKey = "basic_auth_username", b.BasicUser, "basic_auth_password"
	}
	authRef := "$" + b.SecretVar
	exports := b.Exports
	opts := b.Options
	var p bytes.Buffer
	fmt.Fprintf(&p, "leadbridge Aurora sandbox on %s (in memory; interrupt to stop)\n", b.Base)
	switch n := len(opts.Tokens); {
	case n == 0:
		fmt.Fprintf(&p, "  API tokens:  any non-empty bearer token\n")
	case opts.AcceptAnyToken:
		fmt.Fprintf(&p, "  API tokens:  the api_token of %d configured tenant(s); any non-empty token for other tenants\n", n)
	default:
		fmt.Fprintf(&p, "  API tokens:  the api_token of %d configured tenant(s); other tenants are refused\n", n)
	}
	var waits []string
	for _, d := range RetrySchedule() {
		waits = append(waits, shortDuration(time.Duration(float64(d)/max(opts.RetryCompression, 1))))
	}
	how := "Aurora's schedule"
	if opts.RetryCompression > 1 {
		how = fmt.Sprintf("Aurora's schedule compressed %gx", opts.RetryCompression)
	}
	fmt.Fprintf(&p, "  webhooks:    retried after %s (%s)\n", strings.Join(waits, ", "), how)
	if opts.Latency > 0 {
		fmt.Fprintf(&p, "  latency:     %s per API call\n", opts.Latency)
	}
	fmt.Fprintf(&p, "  enrich:      LEADBRIDGE_AURORA_API_URL=%s (or aurora.api_url)\n", b.Base)

	bearer := "-H 'Authorization: Bearer " + AnyToken + "'"
	if token != "" {
		bearer = `-H "Authorization: Bearer ` + token + `"`
	}
	tmpl := b.IngestURL + "/webhooks/aurora/" + tenant + "/lead_created?lead_id=<LEAD_ID>&source=<SOURCE>"
	hook := `{"webhook":{"event":"lead_created","url_template":` + shellJSON(tmpl) +
		`,"` + authKey + `":` + shellJSON(authName) + `,"` + authValueKey + `":"'"` + authRef + `"'"}}`
	lead := `{"lead":{"address":"600 Brannan St, San Francisco, CA, 94107","latitude":37.7796,"longitude":-122.3953,` +
		`"customer":{"customer_first_name":"Ada","customer_last_name":"Lovelace","customer_email":"ada@example.com","customer_phone":"(555) 111-5151"}}}`
	api := b.Base + "/tenants/" + tenant

	if len(exports) > 0 {
		fmt.Fprintf(&p, "\nThe commands below read secrets from the shell; export first:\n")
		for _, e := range exports {
			fmt.Fprintf(&p, "  %s\n", e)
		}
	}
	fmt.Fprintf(&p, "\n# 1. Subscribe leadbridge ingest (%s) to lead_created of tenant %s:\n", b.IngestURL, tenant)
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
