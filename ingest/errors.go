package ingest

import (
	"errors"
	"fmt"
	"net/http"
)

// Error kinds. Handlers wrap one of these with a short, safe message (never
// input echoed back, never a secret); statusOf maps them to HTTP answers in one
// place.
var (
	// ErrInvalid: the request body could not be read (400). An authenticated
	// delivery is never refused for what it says: its problems are flagged.
	ErrInvalid = errors.New("invalid request")
	// ErrUnauthorized: unknown tenant or account, missing or wrong credentials (401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrTooLarge: the body or LeadPro's token is over http.max_body_bytes,
	// or the event over the raw topic's max.message.bytes (413).
	ErrTooLarge = errors.New("request body too large")
	// ErrUnavailable: the event could not be acknowledged now (Kafka did not
	// ack in time, the producer buffer is full, the server is draining); the
	// provider should retry (503 + Retry-After).
	ErrUnavailable = errors.New("service unavailable")
	// ErrOverloaded is returned by a Publisher whose buffer is full; it is an
	// ErrUnavailable.
	ErrOverloaded = fmt.Errorf("%w: producer buffer full", ErrUnavailable)
)

var errorStatus = []struct {
	kind   error
	status int
}{
	{ErrInvalid, http.StatusBadRequest},
	{ErrUnauthorized, http.StatusUnauthorized},
	{ErrTooLarge, http.StatusRequestEntityTooLarge},
	{ErrUnavailable, http.StatusServiceUnavailable},
}

// statusOf returns the HTTP status for err; 500 for unknown errors.
func statusOf(err error) int {
	for _, e := range errorStatus {
		if errors.Is(err, e.kind) {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
