package enrich

import (
	"context"
	"errors"
	"time"
)

// LeadFetcher is all enrich needs from a provider API: the current state of
// a lead as the provider's JSON body. Aurora's client implements it; a
// failure says what enrich should do next through the errors below.
type LeadFetcher interface {
	RetrieveLead(ctx context.Context, tenantID, token, leadID string) ([]byte, error)
}

// The kinds of failure enrich understands. A LeadFetcher's error matches one
// of them with errors.Is (usually by returning a *FetchError); an error that
// matches none is permanent and the event goes to the DLQ at once.
var (
	// ErrNotFound: the lead is not readable (yet). A webhook can arrive
	// before its lead is, so it is retried for Config.NotFoundRetryFor.
	ErrNotFound = errors.New("lead not found")
	// ErrUnauthorized: the API refused the token. Permanent: the event goes
	// to the DLQ at once (reason unauthorized) and the token needs fixing.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrUnavailable: no usable answer this time (timeouts, transport
	// errors, 5xx, a malformed body). Retried with backoff for Config.RetryFor.
	ErrUnavailable = errors.New("temporarily unavailable")
	// ErrThrottled: the API said too many requests. Retried like
	// ErrUnavailable, and the token's request rate is slowed for a minute.
	ErrThrottled = errors.New("throttled")
)

// FetchError is a LeadFetcher failure with what enrich needs to handle it.
type FetchError struct {
	Kind       error         // ErrNotFound, ErrUnauthorized, ErrUnavailable, ErrThrottled, or nil: permanent
	Status     int           // the API's status code, for metrics; 0 when no answer arrived
	RetryAfter time.Duration // the API's hint before the next try; 0: none
	Err        error         // the cause; its text must carry no token or body
}

func (e *FetchError) Error() string { return e.Err.Error() }

// Unwrap makes both the kind and the cause visible to errors.Is and errors.As.
func (e *FetchError) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// retryAfter is the API's Retry-After hint carried by err, if any.
func retryAfter(err error) (time.Duration, bool) {
	if fe, ok := errors.AsType[*FetchError](err); ok && fe.RetryAfter > 0 {
		return fe.RetryAfter, true
	}
	return 0, false
}

// statusOf is the API status carried by err for the api_calls metric: 200
// for success, 0 when no answer arrived.
func statusOf(err error) int {
	if err == nil {
		return 200
	}
	if fe, ok := errors.AsType[*FetchError](err); ok {
		return fe.Status
	}
	return 0
}
