package schema

import (
	"strconv"
	"strings"
	"time"
)

// The two HTTP details both of leadbridge's HTTP faces share (ingest, and
// the Aurora sandbox standing in for Aurora's API): written once here, the
// package both import.

// RetryAfter formats d as a Retry-After delta-seconds value: whole seconds,
// rounded up, at least 1.
func RetryAfter(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(secs, 1), 10)
}

// BearerToken returns the token of an Authorization header value
// "Bearer <token>" (the scheme in any case) and true; for any other value,
// the value trimmed and false.
func BearerToken(h string) (string, bool) {
	h = strings.TrimSpace(h)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return h, false
}
