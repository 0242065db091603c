package ingest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/golang-jwt/jwt/v5"

	"github.com/leadbridge/leadbridge/schema"
)

// SignLeadPro returns the token LeadPro puts in Authorization for payload:
// an HS256 JWT whose payload segment is exactly these bytes (so a body equal
// to payload matches it). The simulator and the tests sign with it; the
// handler in leadpro.go verifies.
func SignLeadPro(payload []byte, secret schema.Secret) (string, error) {
	return signJWT(jwt.SigningMethodHS256, payload, []byte(secret.Reveal()))
}

// signJWT signs payload with m and key under the header {"alg":...,"typ":"JWT"}.
func signJWT(m jwt.SigningMethod, payload []byte, key any) (string, error) {
	head, err := json.Marshal(map[string]string{"alg": m.Alg(), "typ": "JWT"})
	if err != nil {
		return "", err
	}
	unsigned := base64.RawURLEncoding.EncodeToString(head) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := m.Sign(unsigned, key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
