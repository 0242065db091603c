package bench

import (
	"net/http"
	"sync/atomic"
	"time"
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

// callClock times the members' API calls from request to response headers,
// as they see them: the API's latency plus what this machine adds (the
// request and the answer wait their turn for a CPU). The bound is in flight
// over the API's latency; at the calls' own time even a member that never
// left a slot idle reaches less of it.
type callClock struct {
	n, total atomic.Int64 // calls, nanoseconds
}

// wrap times the calls that go through rt.
func (c *callClock) wrap(rt http.RoundTripper) http.RoundTripper { return timedTransport{rt, c} }

// mean is the calls' mean time, 0 before any.
func (c *callClock) mean() time.Duration {
	n := c.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(c.total.Load() / n)
}

type timedTransport struct {
	rt http.RoundTripper
	c  *callClock
}

func (t timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.rt.RoundTrip(r)
	t.c.total.Add(int64(time.Since(start)))
	t.c.n.Add(1)
	return resp, err
}
