package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// fields reads one JSON object of provider data and collects the problems
// found while mapping it. Values are decoded one at a time with UseNumber, so
// a number is never rounded through float64; JSON null counts as absent.
type fields struct {
	prefix   string // path of the object in provider_fields, "" or "customer."
	raw      map[string]json.RawMessage
	problems *[]ValidationProblem
}

// readObject decodes b, which must be exactly one JSON object, into its
// members (the last of duplicate names wins, as everywhere in encoding/json)
// and returns it compacted alongside.
func readObject(b []byte) (map[string]json.RawMessage, json.RawMessage, error) {
	// The common case, one valid object, without a Decoder's buffer; any
	// failure takes the Decoder's path below for its exact error.
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) == nil && m != nil {
		c := bytes.NewBuffer(make([]byte, 0, len(b)))
		if err := json.Compact(c, b); err != nil {
			return nil, nil, fmt.Errorf("compact: %w", err)
		}
		return m, c.Bytes(), nil
	}
	m = nil
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return nil, nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if m == nil { // the literal null
		return nil, nil, fmt.Errorf("not a JSON object: null")
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("not a JSON object: data after the object")
	}
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		return nil, nil, fmt.Errorf("compact: %w", err)
	}
	return m, c.Bytes(), nil
}

func (f fields) add(name, format string, args ...any) {
	*f.problems = append(*f.problems, ValidationProblem{Field: f.prefix + name, Problem: fmt.Sprintf(format, args...)})
}

// value returns the member name decoded (objects as map[string]any, numbers
// as json.Number), and whether it is present and not null.
func (f fields) value(name string) (any, bool) {
	raw, ok := f.raw[name]
	if !ok {
		return nil, false
	}
	v, err := decodeValue(raw)
	if err != nil || v == nil {
		return nil, false
	}
	return v, true
}

func decodeValue(raw json.RawMessage) (any, error) {
	if v, ok := decodeScalar(raw); ok {
		return v, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

// decodeScalar decodes the plain literals of a member already read from a
// valid object (null, booleans, numbers, strings without escapes) as the
// Decoder with UseNumber would, without one; ok is false for anything else.
func decodeScalar(raw json.RawMessage) (v any, ok bool) {
	switch s := string(raw); {
	case s == "null":
		return nil, true
	case s == "true":
		return true, true
	case s == "false":
		return false, true
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		s = s[1 : len(s)-1]
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
				return nil, false // escapes or non-ASCII: the Decoder's rules
			}
		}
		return s, true
	case len(s) > 0 && (s[0] == '-' || '0' <= s[0] && s[0] <= '9') && json.Valid(raw):
		return json.Number(s), true
	}
	return nil, false
}

// str returns the member name if it is a string. A present value of another
// type is a problem, and reported as absent.
func (f fields) str(name string) (string, bool) {
	v, ok := f.value(name)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		f.add(name, "must be a string, got %s", jsonType(v))
	}
	return s, ok
}

// num returns the member name if it is a number; another type is a problem.
func (f fields) num(name string) (json.Number, bool) {
	v, ok := f.value(name)
	if !ok {
		return "", false
	}
	n, ok := v.(json.Number)
	if !ok {
		f.add(name, "must be a number, got %s", jsonType(v))
	}
	return n, ok
}

// boolean checks that the member name, if present, is a boolean.
func (f fields) boolean(name string) {
	if v, ok := f.value(name); ok {
		if _, ok := v.(bool); !ok {
			f.add(name, "must be a boolean, got %s", jsonType(v))
		}
	}
}

// object returns the member name if it is an object; another type is a problem.
func (f fields) object(name string) (fields, bool) {
	raw, ok := f.raw[name]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return fields{}, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		v, _ := decodeValue(raw)
		f.add(name, "must be an object, got %s", jsonType(v))
		return fields{}, false
	}
	return fields{prefix: f.prefix + name + ".", raw: m, problems: f.problems}, true
}

// timestamp returns the member name, an RFC 3339 date-time, normalised to UTC
// RFC 3339; any other value is a problem and reported as absent.
func (f fields) timestamp(name string) string {
	s, ok := f.str(name)
	if !ok {
		return ""
	}
	t, ok := parseTime(s)
	if !ok {
		f.add(name, "not an ISO 8601 date-time with a UTC offset (RFC 3339)")
		return ""
	}
	return formatTime(t)
}

// parseTime reads the profile of ISO 8601 that both providers use and that
// places an instant in time: RFC 3339, a date-time with seconds and an offset.
func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// validEmail reports whether s is a bare addr-spec (RFC 5322, as net/mail
// reads it) whose domain has a dot, as an address must to be deliverable on
// the internet. No display names, no angle brackets, no surrounding spaces.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// decimalPlaces returns how many decimal places the value of the JSON number
// n needs: "1.50" needs 1, "1e-3" needs 3, "250e-2" needs 1, "12" needs 0. It
// reads the literal, never a float, and never allocates for huge exponents.
func decimalPlaces(n json.Number) int64 {
	s := strings.TrimPrefix(string(n), "-")
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := strconv.ParseInt(strings.TrimPrefix(s[i+1:], "+"), 10, 64)
		if err != nil { // beyond int64: as good as infinite
			if strings.HasPrefix(s[i+1:], "-") {
				e = -1 << 62
			} else {
				e = 1 << 62
			}
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimRight(intPart+frac, "0")
	if strings.Trim(digits, "0") == "" {
		return 0 // the value is zero
	}
	zeros := int64(len(intPart) + len(frac) - len(digits))
	// value = digits * 10^(exp - len(frac) + zeros)
	scale := exp - int64(len(frac)) + zeros
	if scale >= 0 {
		return 0
	}
	return -scale
}

func runes(s string) int { return utf8.RuneCountInString(s) }
