package wire

import (
	"cmp"
	"net/http"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/enrich"
)

// APIClient is the HTTP client for Aurora's API. It keeps as many idle
// connections to the API host as a member has calls in flight
// (enrich.max_in_flight): net/http's default keeps 2, so nearly every call
// past the second dialed anew, and against the real API shook hands over
// TLS anew; in bench enrich's profile the dials were 16% of the members'
// CPU. With tracing on, its transport makes client spans.
//
// It has no Timeout of its own: enrich gives every call a context that ends
// after enrich.request_timeout. A client Timeout (aurora.DefaultTimeout, 10 s,
// as it had) cut calls at 10 s whatever request_timeout said, and with
// tracing on, a transport net/http does not know, it cost every call a
// goroutine and a timer of net/http's own to enforce it.
func APIClient(cfg config.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = cmp.Or(cfg.Enrich.MaxInFlight, enrich.DefaultMaxInFlight)
	t.MaxIdleConns = max(t.MaxIdleConns, t.MaxIdleConnsPerHost)
	c := &http.Client{Transport: t}
	if tracingOn.Load() {
		c.Transport = TraceTransport(t)
	}
	return c
}
