package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/leadbridge/leadbridge/schema"
)

// LeadProLeeway is the clock skew allowed on a token's exp, nbf and iat.
const LeadProLeeway = 60 * time.Second

// VerifyLeadPro verifies a LeadPro webhook token against an account's signing
// secrets and returns its payload, byte for byte. Only HS256 is accepted (alg
// none, other HMAC sizes and RSA/ECDSA tokens are rejected before any key is
// tried), any one of secrets may have signed it (rotation), and exp, nbf and
// iat are checked when present with LeadProLeeway. Every failure is
// ErrUnauthorized, with no detail a caller could probe.
func VerifyLeadPro(token string, secrets []schema.Secret, now time.Time) ([]byte, error) {
	if token == "" || len(secrets) == 0 {
		return nil, ErrUnauthorized
	}
	keys := make([]jwt.VerificationKey, len(secrets))
	for i, s := range secrets {
		keys[i] = []byte(s.Reveal())
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithLeeway(LeadProLeeway),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	// RegisteredClaims: only exp/nbf/iat are decoded for validation, the rest
	// of the payload is read once, by ParseLeadPro.
	_, err := p.ParseWithClaims(token, &jwt.RegisteredClaims{}, func(*jwt.Token) (any, error) {
		return jwt.VerificationKeySet{Keys: keys}, nil
	})
	if err != nil {
		return nil, ErrUnauthorized
	}
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, ErrUnauthorized
	}
	return payload, nil
}

// LeadProPayload is what leadbridge reads of a verified token payload; the
// payload itself travels to Kafka verbatim.
type LeadProPayload struct {
	Event  string // lead.created or lead.updated
	DataID string // data.id as text (LeadPro sends a number; a string is accepted)
}

// ParseLeadPro checks a verified payload: a JSON object whose event is
// lead.created or lead.updated and whose data object carries a non-empty id.
// Errors wrap ErrInvalid and name no value.
func ParseLeadPro(payload []byte) (LeadProPayload, error) {
	var p struct {
		Event string `json:"event"`
		Data  *struct {
			ID json.RawMessage `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return LeadProPayload{}, invalid("token payload is not a JSON object with event and data")
	}
	if p.Event != schema.LeadProLeadCreated && p.Event != schema.LeadProLeadUpdated {
		return LeadProPayload{}, invalid("event must be lead.created or lead.updated")
	}
	if p.Data == nil {
		return LeadProPayload{}, invalid("data is missing")
	}
	id, err := leadProID(p.Data.ID)
	if err != nil {
		return LeadProPayload{}, err
	}
	return LeadProPayload{Event: p.Event, DataID: id}, nil
}

func leadProID(raw json.RawMessage) (string, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if len(raw) == 0 || d.Decode(&v) != nil {
		return "", invalid("data.id is missing")
	}
	var id string
	switch v := v.(type) {
	case json.Number:
		id = v.String()
	case string:
		id = v
	default:
		return "", invalid("data.id must be a number or a string")
	}
	if !cleanString(id, maxAuroraNameBytes) {
		return "", invalid("data.id is empty, too long or has control characters")
	}
	return id, nil
}

// bodyMatch compares a LeadPro request body with the verified payload, for the
// mismatch metric only: the payload is the source of truth, and a body that is
// absent, differs or is not strict JSON (like the provider doc's own sample,
// with unquoted keys and a bare 07123456789) is counted, never parsed leniently
// and never used.
func bodyMatch(body, payload []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "absent"
	}
	if bytes.Equal(body, payload) { // the usual case: no decoding needed
		return "match"
	}
	var b, p any
	if json.Unmarshal(body, &b) != nil {
		return "unparseable"
	}
	if json.Unmarshal(payload, &p) != nil || !reflect.DeepEqual(b, p) {
		return "differs"
	}
	return "match"
}

// bearer returns the token of an Authorization header: "Bearer <jwt>" or the
// bare token.
func bearer(h string) string {
	h = strings.TrimSpace(h)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return h
}
