package ingest

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/leadbridge/leadbridge/schema"
)

// AuroraTenant is one Aurora tenant that may deliver webhooks, with how its
// subscriptions authenticate: a header token (Header + Tokens) or basic auth
// (Username + Passwords). Several values allow rotation: any one is accepted.
type AuroraTenant struct {
	ID        string
	Header    string          // e.g. X-Aurora-Webhook-Token; empty means basic auth
	Tokens    []schema.Secret // header values accepted
	Username  string          // basic auth user name
	Passwords []schema.Secret // basic auth passwords accepted
}

// LeadProAccount is one LeadPro account and its webhook signing secrets
// (several allow rotation).
type LeadProAccount struct {
	ID             string
	SigningSecrets []schema.Secret
}

// digest hides a credential's length from the comparison that follows:
// comparing fixed-size digests in constant time leaks neither content nor length.
func digest(s string) [sha256.Size]byte {
	var buf [128]byte // a token of usual length is copied here, not to the heap
	return sha256.Sum256(append(buf[:0], s...))
}

func digests(secrets []schema.Secret) [][sha256.Size]byte {
	out := make([][sha256.Size]byte, len(secrets))
	for i, s := range secrets {
		out[i] = digest(s.Reveal())
	}
	return out
}

// matchAny reports whether got's digest equals any of want. It compares
// against every candidate, whatever matched, so the time taken does not say
// which one did.
func matchAny(got string, want [][sha256.Size]byte) bool {
	g := digest(got)
	ok := 0
	for i := range want {
		ok |= subtle.ConstantTimeCompare(g[:], want[i][:])
	}
	return ok == 1
}

// tenantAuth is an AuroraTenant's credentials as digests, computed once: a
// request then hashes only what it brings.
type tenantAuth struct {
	header    string
	tokens    [][sha256.Size]byte
	user      [sha256.Size]byte
	passwords [][sha256.Size]byte
}

func newTenantAuth(t AuroraTenant) *tenantAuth {
	return &tenantAuth{header: t.Header, tokens: digests(t.Tokens), user: digest(t.Username), passwords: digests(t.Passwords)}
}

// unknownTenant is compared against when the tenant id is unknown, so an
// unknown tenant answers like a wrong token, after the same work.
var unknownTenant = [][sha256.Size]byte{digest("")}

// authenticate checks an Aurora delivery's credentials. A nil tenant (unknown
// id) still pays for one comparison.
func (t *tenantAuth) authenticate(r *http.Request) bool {
	if t == nil {
		matchAny(r.Header.Get("Authorization"), unknownTenant)
		return false
	}
	if t.header != "" {
		vals := r.Header.Values(t.header)
		if len(vals) != 1 {
			matchAny("", t.tokens)
			return false
		}
		return matchAny(vals[0], t.tokens)
	}
	user, pass, ok := r.BasicAuth()
	u := digest(user)
	userOK := subtle.ConstantTimeCompare(u[:], t.user[:])
	passOK := matchAny(pass, t.passwords)
	return ok && userOK == 1 && passOK && len(t.passwords) > 0
}
