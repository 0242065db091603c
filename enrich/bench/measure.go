package bench

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/leadbridge/leadbridge/enrich"
)

// firstCall passes API calls on to the sandbox and remembers when the first
// one arrived: the start of the drain proper, after the members joined the
// group and fetched their first records.
type firstCall struct {
	h  http.Handler
	at atomic.Int64 // unix nanoseconds; 0 until the first call
}

func (f *firstCall) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.at.CompareAndSwap(0, time.Now().UnixNano())
	f.h.ServeHTTP(w, r)
}

// time is when the first call arrived; zero before.
func (f *firstCall) time() time.Time {
	if n := f.at.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// callClock times the members' API calls (Retrieve Lead, request to body
// read) as they see them: the API's latency plus what this machine adds (the
// request and the answer wait their turn for a CPU). The bound is in flight
// over the API's latency; at the calls' own time even a member that never
// left a slot idle reaches less of it.
//
// It wraps the fetcher, not the HTTP client's RoundTripper: net/http gives a
// client with a Timeout and a RoundTripper it does not know a goroutine and
// a timer per request (setRequestCancel), which showed as 6x the time in
// Transport.getConn and its locks in the members' profiles.
type callClock struct {
	n, total atomic.Int64 // calls, nanoseconds
}

// wrap times the calls that go through f.
func (c *callClock) wrap(f enrich.LeadFetcher) enrich.LeadFetcher { return timedFetcher{f, c} }

// mean is the calls' mean time, 0 before any.
func (c *callClock) mean() time.Duration {
	n := c.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(c.total.Load() / n)
}

type timedFetcher struct {
	f enrich.LeadFetcher
	c *callClock
}

func (t timedFetcher) RetrieveLead(ctx context.Context, tenantID, token, leadID string) ([]byte, error) {
	start := time.Now()
	body, err := t.f.RetrieveLead(ctx, tenantID, token, leadID)
	t.c.total.Add(int64(time.Since(start)))
	t.c.n.Add(1)
	return body, err
}
