package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
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

// callTime is the members' mean Retrieve Lead call time, from the
// leadbridge_enrich_api_duration_seconds histograms on their /metrics
// (sum over count, every status): the time each call took as the member saw
// it, the API's latency plus what this machine adds (the request and the
// answer wait their turn for a CPU). The bound is in flight over the API's
// latency; at the calls' own time even a member that never left a slot idle
// reaches less of it. Read from the members' own metric, the measurement
// adds nothing to the calls: a wrapper around the fetcher made every
// worker's stack deeper, and the members' stack growth (runtime.newstack)
// went from 0.10-0.18 s to 0.31-0.46 s of their CPU in 40,000-event runs.
func callTime(ctx context.Context, addrs []string) (time.Duration, error) {
	var sum float64
	var n uint64
	for _, a := range addrs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a+"/metrics", nil)
		if err != nil {
			return 0, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("member %s metrics: %w", a, err)
		}
		if f := fams["leadbridge_enrich_api_duration_seconds"]; f != nil {
			for _, m := range f.GetMetric() {
				sum += m.GetHistogram().GetSampleSum()
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	if n == 0 {
		return 0, nil
	}
	return time.Duration(sum / float64(n) * float64(time.Second)), nil
}
