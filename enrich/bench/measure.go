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
