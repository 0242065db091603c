package wire

import (
	"cmp"
	"net/http"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/enrich/aurora"
)

// APIClient is the HTTP client for Aurora's API. It keeps as many idle
// connections to the API host as a member has calls in flight
// (enrich.max_in_flight): net/http's default keeps 2, so nearly every call
// past the second dialed anew, and against the real API shook hands over
// TLS anew; in bench enrich's profile the dials were 16% of the members'
// CPU. With tracing on, its transport makes client spans.
func APIClient(cfg config.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = cmp.Or(cfg.Enrich.MaxInFlight, enrich.DefaultMaxInFlight)
	t.MaxIdleConns = max(t.MaxIdleConns, t.MaxIdleConnsPerHost)
	c := &http.Client{Timeout: aurora.DefaultTimeout, Transport: t}
	if tracingOn.Load() {
		c.Transport = TraceTransport(t)
	}
	return c
}
