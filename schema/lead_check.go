package schema

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// CheckLead reports, without encoding l, what ValidateLead reports for l's
// JSON encoding: whether it is valid against lead.schema.json with a
// matching key. It holds for every l that encoding/json encodes (an invalid
// json.Number or ProviderFields fails the encoding first). The Lead struct
// already gives most of the schema: exactly its properties, every value of
// its type, optional fields omitted when empty. What is left is checked
// here: non-empty required values, the provider's own fields, the
// date-times (isDateTime, the schema's date-time format) and
// provider_fields being an object. Tests hold it equal to ValidateLead over
// the goldens, every single-rule violation and fuzzed leads.
//
// It costs a small fraction of ValidateLead, which decodes the record into
// generic values and walks the schema: enrich checks every record it writes
// with it. The error wraps ErrInvalidLead and names the JSON pointer of each
// violation, never a value.
func CheckLead(l Lead) error {
	var errs []error
	bad := func(pointer, problem string) {
		errs = append(errs, fmt.Errorf("at '%s': %s", pointer, problem))
	}
	if l.Status == "" {
		bad("/status", "empty")
	}
	switch l.Provider {
	case ProviderAurora:
		switch {
		case l.TenantID == "":
			bad("", "aurora without tenant_id")
		case l.AccountID != "":
			bad("/account_id", "not allowed for aurora")
		}
		if l.Type != "" {
			bad("/type", "not allowed for aurora")
		}
		if l.Property != (Address{}) {
			bad("/property", "not allowed for aurora")
		}
	case ProviderLeadPro:
		switch {
		case l.AccountID == "":
			bad("", "leadpro without account_id")
		case l.TenantID != "":
			bad("/tenant_id", "not allowed for leadpro")
		}
		if l.ProjectID != "" {
			bad("/project_id", "not allowed for leadpro")
		}
		if l.Contact.Address != "" {
			bad("/contact/address", "not allowed for leadpro")
		}
	}
	if err := CheckLeadKey(l); err != nil {
		bad("/key", "does not match provider, tenant or account and lead_id")
	}
	for _, t := range []struct{ pointer, value string }{
		{"/created_at", l.CreatedAt}, {"/updated_at", l.UpdatedAt},
	} {
		if t.value != "" && !isDateTime(t.value) {
			bad(t.pointer, "not an RFC 3339 date-time")
		}
	}
	if l.SourceEvent.ID == "" {
		bad("/source_event/id", "empty")
	}
	if l.SourceEvent.Type == "" {
		bad("/source_event/type", "empty")
	}
	if !isDateTime(l.SourceEvent.Time) {
		bad("/source_event/time", "not an RFC 3339 date-time")
	}
	for i, p := range l.ValidationProblems {
		if p.Field == "" {
			bad(fmt.Sprintf("/validation_problems/%d/field", i), "empty")
		}
		if p.Problem == "" {
			bad(fmt.Sprintf("/validation_problems/%d/problem", i), "empty")
		}
	}
	// encoding/json writes a nil RawMessage as null, and any other as the
	// (valid) JSON it holds.
	if fields := bytes.TrimLeft(l.ProviderFields, " \t\r\n"); len(fields) == 0 || fields[0] != '{' {
		bad("/provider_fields", "not an object")
	}
	if errs == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidLead, errors.Join(errs...))
}

// isDateTime is the rule lead.schema.json's "format": "date-time" applies
// (RFC 3339 section 5.6, as the schema library reads it: a t or T between
// date and time, a z or Z or a +hh:mm / -hh:mm offset, a second of 60 only
// at 23:59 UTC). The library's own check costs more than the rest of
// CheckLead together (a validator per value, and a deep stack that each new
// worker goroutine grows into), so it is written out here; a fuzz test holds
// the two equal.
func isDateTime(s string) bool {
	if len(s) < 20 || (s[10] != 't' && s[10] != 'T') {
		return false
	}
	return isFullDate(s[:10]) && isTime(s[11:])
}

// isFullDate is RFC 3339's full-date: YYYY-MM-DD, a day its month has
// (February 29 in leap years only). Written out, as time.Parse's layout
// match cost as much as the rest of the date-time check.
func isFullDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	y, m, d := decimal(s[:4]), decimal(s[5:7]), decimal(s[8:])
	if y < 0 || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}

// decimal is the value of a string of ASCII digits, or -1.
func decimal(s string) int {
	n := 0
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// isTime is RFC 3339's full-time, with the same reading as isDateTime.
func isTime(s string) bool {
	if len(s) < 9 || s[2] != ':' || s[5] != ':' {
		return false
	}
	var hms [3]int
	for i, tok := range strings.SplitN(s[:8], ":", 3) {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 {
			return false
		}
		hms[i] = n
	}
	h, m, sec := hms[0], hms[1], hms[2]
	if h > 23 || m > 59 || sec > 60 {
		return false
	}
	s = s[8:]
	if rest, ok := strings.CutPrefix(s, "."); ok {
		digits := 0
		for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
			digits++
		}
		if digits == 0 {
			return false
		}
		s = rest[digits:]
	}
	if s != "z" && s != "Z" {
		if len(s) != 6 || s[3] != ':' {
			return false
		}
		var sign int
		switch s[0] {
		case '+':
			sign = -1
		case '-':
			sign = 1
		default:
			return false
		}
		zh, err1 := strconv.Atoi(s[1:3])
		zm, err2 := strconv.Atoi(s[4:])
		if err1 != nil || err2 != nil || zh < 0 || zm < 0 || zh > 23 || zm > 59 {
			return false
		}
		// The time in UTC, for the leap second's place.
		hm := h*60 + m + sign*(zh*60+zm)
		if hm < 0 {
			hm += 24 * 60
		}
		h, m = hm/60, hm%60
	}
	return sec < 60 || (h == 23 && m == 59)
}
