package schema

import (
	"crypto/sha256"
	"crypto/subtle"
)

// Secret holds a credential (API token, webhook token or password, JWT signing
// secret). It prints as [redacted] through fmt, JSON and YAML so that a %v of a
// config can never leak one; read it with Reveal, only where it is used.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// Equal reports whether s and o hold the same value, in constant time: it
// compares their SHA-256 digests with crypto/subtle, so the time taken says
// neither where they differ nor how long they are. Compare secrets with it,
// never with == (an emptiness check excepted).
func (s Secret) Equal(o Secret) bool {
	a, b := sha256.Sum256([]byte(s)), sha256.Sum256([]byte(o))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, for %#v.
func (s Secret) GoString() string { return redacted }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (YAML and others use it).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
