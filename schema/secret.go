package schema

// Secret holds a credential (API token, webhook token or password, JWT signing
// secret). It prints as [redacted] through fmt, JSON and YAML so that a %v of a
// config can never leak one; read it with Reveal, only where it is used.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, for %#v.
func (s Secret) GoString() string { return redacted }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (YAML and others use it).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
