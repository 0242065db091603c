package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

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
	return newLeadProVerifier(secrets, 0, func() time.Time { return now }).verify(token)
}

// leadProVerifier checks tokens against one account's secrets. It is built
// once per account (keys and parser), so a request pays only for its token.
// Safe for concurrent use.
type leadProVerifier struct {
	keys   jwt.Keyfunc
	parser *jwt.Parser
	maxAge time.Duration
	now    func() time.Time
	noKeys bool
}

// newLeadProVerifier: when maxAge > 0, a token whose iat is older than
// maxAge (plus LeadProLeeway), or absent, is refused too: a token without
// exp could otherwise be replayed for ever.
func newLeadProVerifier(secrets []schema.Secret, maxAge time.Duration, now func() time.Time) *leadProVerifier {
	set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(secrets))}
	for i, s := range secrets {
		set.Keys[i] = []byte(s.Reveal())
	}
	return &leadProVerifier{
		keys: func(*jwt.Token) (any, error) { return set, nil },
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithLeeway(LeadProLeeway),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(now),
		),
		maxAge: maxAge,
		now:    now,
		noKeys: len(secrets) == 0,
	}
}

func (v *leadProVerifier) verify(token string) ([]byte, error) {
	if token == "" || v.noKeys {
		return nil, ErrUnauthorized
	}
	// RegisteredClaims: only exp/nbf/iat are decoded for validation, the rest
	// of the payload is read once, by ParseLeadPro.
	var claims jwt.RegisteredClaims
	if _, err := v.parser.ParseWithClaims(token, &claims, v.keys); err != nil {
		return nil, ErrUnauthorized
	}
	if v.maxAge > 0 && (claims.IssuedAt == nil || v.now().Sub(claims.IssuedAt.Time) > v.maxAge+LeadProLeeway) {
		return nil, ErrUnauthorized
	}
	_, rest, _ := strings.Cut(token, ".")
	seg, _, _ := strings.Cut(rest, ".")
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return nil, ErrUnauthorized
	}
	return payload, nil
}

// LeadProPayload is what leadbridge reads of a verified token payload; the
// payload itself travels to Kafka verbatim.
type LeadProPayload struct {
	Event  string // as sent; "" when absent or not a string
	DataID string // data.id as text (LeadPro sends a number; a string is accepted); "" when unusable
	// Problems lists what is odd about the payload; nil when nothing is.
	Problems []schema.Problem
}

// ParseLeadPro reads a verified payload. It never fails: LeadPro signed it,
// so it is kept whatever it says, and an event other than lead.created or
// lead.updated ("which can be either "lead.created" or "lead.updated""), a
// missing data object and a missing or unusable data.id are listed in
// Problems.
func ParseLeadPro(payload []byte) LeadProPayload {
	// One pass over the payload: data.id is read with the event; a data
	// that is not an object is a type error naming "data", and decoding
	// goes on past it.
	var p struct {
		Event json.RawMessage `json:"event"`
		Data  *struct {
			ID json.RawMessage `json:"id"`
		} `json:"data"`
	}
	var out LeadProPayload
	err := json.Unmarshal(payload, &p)
	var typeErr *json.UnmarshalTypeError
	dataNotObject := errors.As(err, &typeErr) && typeErr.Field == "data"
	if err != nil && !dataNotObject {
		out.Problems = append(out.Problems, schema.Problem{Field: "payload", Problem: "not a JSON object"})
		return out
	}
	switch {
	case len(p.Event) == 0 || string(p.Event) == "null":
		out.Problems = append(out.Problems, schema.Problem{Field: "event", Problem: "missing"})
	case json.Unmarshal(p.Event, &out.Event) != nil:
		out.Problems = append(out.Problems, schema.Problem{Field: "event", Problem: "must be a string"})
	case out.Event != schema.LeadProLeadCreated && out.Event != schema.LeadProLeadUpdated:
		out.Problems = append(out.Problems, schema.Problem{Field: "event", Problem: "not lead.created or lead.updated"})
	}
	switch {
	case dataNotObject:
		out.Problems = append(out.Problems, schema.Problem{Field: "data", Problem: "must be an object"})
	case p.Data == nil:
		out.Problems = append(out.Problems, schema.Problem{Field: "data", Problem: "missing"})
	default:
		id, problem := leadProID(p.Data.ID)
		if problem != "" {
			out.Problems = append(out.Problems, schema.Problem{Field: "data.id", Problem: problem})
		}
		out.DataID = id
	}
	return out
}

// leadProID returns data.id as text, or "" and what is wrong with it.
func leadProID(raw json.RawMessage) (string, string) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", "missing"
	}
	var id string
	switch raw[0] {
	case '"':
		if json.Unmarshal(raw, &id) != nil {
			return "", "not a valid JSON string"
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		id = string(raw) // a number's literal text, never rounded
	default:
		return "", "must be a number or a string"
	}
	if !cleanString(id, maxAuroraNameBytes) {
		return "", "empty, over 64 bytes or has control characters"
	}
	return id, ""
}

// withProblems returns payload, a JSON object, with a "problems" member
// appended before its closing brace: every byte the provider signed is kept,
// in order.
func withProblems(payload []byte, problems []schema.Problem) ([]byte, error) {
	list, err := json.Marshal(problems)
	if err != nil {
		return nil, err
	}
	obj := bytes.TrimRight(payload, " \t\r\n")
	if len(obj) < 2 || obj[len(obj)-1] != '}' {
		return nil, errors.New("payload is not a JSON object")
	}
	body := obj[:len(obj)-1]
	out := make([]byte, 0, len(payload)+len(list)+16)
	out = append(out, body...)
	if len(bytes.TrimSpace(body)) > 1 { // more than the opening brace
		out = append(out, ',')
	}
	out = append(out, `"`+schema.ProblemsField+`":`...)
	out = append(out, list...)
	return append(out, '}'), nil
}

// leadpro handles POST /webhooks/leadpro/:account_id. The token is the
// event ("we recommend using this instead of the actual payload"), so it is
// capped like a body, and a body that is not JSON is flagged, not refused.
func (s *Server) leadpro(c echo.Context) (handled, error) {
	r := c.Request()
	res := handled{event: "other"}
	body, err := readBody(c, s.cfg.MaxBodyBytes)
	if err != nil {
		return res, err
	}
	auth := r.Header.Get("Authorization")
	if int64(len(auth)) > s.cfg.MaxBodyBytes {
		return res, fmt.Errorf("%w: token over the body limit", ErrTooLarge)
	}
	accountID := c.Param("account_id")
	v := s.accounts[accountID]
	if v == nil {
		v = s.unknownAccount // the same HMAC work as a known account
	}
	// "Bearer <jwt>", or the bare token
	token, _ := schema.BearerToken(auth)
	payload, err := v.verify(token)
	if err != nil {
		return res, err
	}
	p := ParseLeadPro(payload)
	if len(body) > 0 && !isJSONMedia(r.Header.Get("Content-Type")) {
		p.Problems = append(p.Problems, schema.Problem{Field: "content-type", Problem: "not JSON: the signed token is the event"})
	}
	if p.Event == schema.LeadProLeadCreated || p.Event == schema.LeadProLeadUpdated {
		res.event = p.Event
	}
	res.flagged = len(p.Problems) > 0
	s.m.leadproBody.WithLabelValues(bodyMatch(body, payload)).Inc()
	name := p.Event
	if !validLeadProEventName(name) {
		name = schema.InvalidEventName
	}
	ev := schema.Event{
		ID:     s.cfg.NewID(),
		Source: schema.LeadProSource(accountID),
		Type:   schema.LeadProTypePrefix + name,
		Time:   s.cfg.Now().UTC(),
		Data:   payload,
	}
	if p.DataID != "" {
		ev.Subject = p.DataID
		ev.PartitionKey = schema.LeadProKey(accountID, p.DataID)
	} else {
		ev.PartitionKey = schema.ProviderLeadPro + ":" + accountID
	}
	if res.flagged {
		if ev.Data, err = withProblems(payload, p.Problems); err != nil {
			return res, err
		}
	}
	res.eventID = ev.ID
	return res, s.publish(c, ev)
}

// validLeadProEventName: LeadPro's names are dotted lower-case words.
func validLeadProEventName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '_' {
			return false
		}
	}
	return true
}

var unknownAccountSecrets = []schema.Secret{schema.Secret(uuid.NewString())}

func readBody(c echo.Context, limit int64) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > limit {
		return nil, ErrTooLarge
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, ErrTooLarge
	}
	if err != nil {
		return nil, invalid("could not read the body")
	}
	return b, nil
}

func isJSONMedia(ct string) bool {
	if ct == "" {
		return true // LeadPro documents JSON; a missing header is not a different type
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
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
