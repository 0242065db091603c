package aurora

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/leadbridge/leadbridge/enrich"
)

var (
	// ErrBodyTooLarge is wrapped when a 200 body exceeds MaxBodyBytes. It is
	// permanent: the same lead will be as large on the next call.
	ErrBodyTooLarge = errors.New("response body too large")

	// ErrMalformedBody is wrapped when a 200 body is not a JSON object. It counts as
	// retryable, like a 5xx: a proxy's maintenance page or a cut connection
	// produce it, and the next call usually gets the real lead.
	ErrMalformedBody = errors.New("response body is not a JSON object")

	// ErrInvalidRequest is wrapped when RetrieveLead is called with an empty
	// tenant id, lead id or token, a token with control characters, or the
	// client's base URL is unusable. It is
	// permanent (a configuration or input problem) and nothing was sent.
	ErrInvalidRequest = errors.New("invalid request")
)

// APIError is an answer from Aurora other than 200. It carries no body: an
// error body may echo the lead's PII.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// RetryAfter is the server's Retry-After hint (delta-seconds or HTTP-date,
	// converted to a duration from the time of the answer). Zero means no
	// usable hint: absent, malformed, zero or a date already past.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("aurora api: status %d %s", e.Status, http.StatusText(e.Status))
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

// IsRetryable reports whether err is worth another try after a backoff:
// timeouts, network and transport errors, a malformed 200 body, and the
// statuses 408, 429 and 5xx. Cancellation of the caller's context is not
// retryable (the consumer is shutting down), and neither are 404 (see
// IsNotFound, which has its own policy), 401/403 or other 4xx.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if apiErr, ok := errors.AsType[*APIError](err); ok {
		s := apiErr.Status
		return s >= 500 || s == http.StatusTooManyRequests || s == http.StatusRequestTimeout
	}
	switch {
	case errors.Is(err, ErrInvalidRequest), errors.Is(err, ErrBodyTooLarge):
		return false
	case errors.Is(err, ErrMalformedBody):
		return true
	case errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true
	}
	// *url.Error from the transport implements net.Error, so this takes in
	// refused connections, DNS failures, resets and client timeouts.
	_, isNet := errors.AsType[net.Error](err)
	return isNet
}

// IsNotFound reports whether Aurora answered 404. The lead may not be
// visible yet (a webhook can arrive before the lead is readable), so the
// consumer retries for a while before giving up.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsAuth reports whether Aurora refused the token (401 or 403). Permanent:
// the event goes to the DLQ at once, and the token needs fixing.
func IsAuth(err error) bool {
	return hasStatus(err, http.StatusUnauthorized) || hasStatus(err, http.StatusForbidden)
}

// RetryAfter returns the server's Retry-After hint carried by err, if any.
// The duration is not capped; the consumer bounds it by its own policy.
func RetryAfter(err error) (time.Duration, bool) {
	if apiErr, ok := errors.AsType[*APIError](err); ok && apiErr.RetryAfter > 0 {
		return apiErr.RetryAfter, true
	}
	return 0, false
}

func hasStatus(err error, status int) bool {
	apiErr, ok := errors.AsType[*APIError](err)
	return ok && apiErr.Status == status
}

// parseRetryAfter reads a Retry-After value (RFC 9110 §10.2.3): delta-seconds
// or an HTTP-date, the latter relative to now. It returns 0 for anything
// absent, malformed or not in the future.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(math.MaxInt64/time.Second) {
			return time.Duration(math.MaxInt64)
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	if d := t.Sub(now); d > 0 {
		return d
	}
	return 0
}

// asFetchError maps a failed call onto enrich's vocabulary, as WTF Dial maps
// HTTP statuses onto its error codes: 404 is enrich.ErrNotFound, 401/403
// enrich.ErrUnauthorized, 429 enrich.ErrThrottled, what IsRetryable accepts
// enrich.ErrUnavailable, anything else permanent. status is 0 when no answer
// arrived.
func asFetchError(err error, status int) error {
	fe := &enrich.FetchError{Status: status, Err: err}
	fe.RetryAfter, _ = RetryAfter(err)
	switch {
	case IsNotFound(err):
		fe.Kind = enrich.ErrNotFound
	case IsAuth(err):
		fe.Kind = enrich.ErrUnauthorized
	case hasStatus(err, http.StatusTooManyRequests):
		fe.Kind = enrich.ErrThrottled
	case IsRetryable(err):
		fe.Kind = enrich.ErrUnavailable
	}
	return fe
}
