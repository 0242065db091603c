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
func digest(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

// matchAny reports whether got equals any of want. It compares against every
// candidate, whatever matched, so the time taken does not say which one did.
func matchAny(got string, want []schema.Secret) bool {
	g := digest(got)
	ok := 0
	for _, w := range want {
		d := digest(w.Reveal())
		ok |= subtle.ConstantTimeCompare(g[:], d[:])
	}
	return ok == 1
}

// authenticate checks an Aurora delivery's credentials. A nil tenant (unknown
// id) still pays for one comparison, so an unknown tenant answers like a wrong
// token.
func (t *AuroraTenant) authenticate(r *http.Request) bool {
	if t == nil {
		matchAny(r.Header.Get("Authorization"), []schema.Secret{""})
		return false
	}
	if t.Header != "" {
		vals := r.Header.Values(t.Header)
		if len(vals) != 1 {
			matchAny("", t.Tokens)
			return false
		}
		return matchAny(vals[0], t.Tokens)
	}
	user, pass, ok := r.BasicAuth()
	userOK := subtle.ConstantTimeCompare(digestSlice(user), digestSlice(t.Username))
	passOK := matchAny(pass, t.Passwords)
	return ok && userOK == 1 && passOK && len(t.Passwords) > 0
}

func digestSlice(s string) []byte { d := digest(s); return d[:] }
