package simulate

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// maxAnswerBytes bounds what is read of each answer (ingest's are a few
// dozen bytes): a target that streams more is not read to its end.
const maxAnswerBytes = 64 << 10

// NewClient returns an HTTP client that keeps one connection per worker alive.
func NewClient(concurrency int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        concurrency,
			MaxIdleConnsPerHost: concurrency,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// Result is what Generate measured.
type Result struct {
	Requests  int           // requests started
	Status    map[int]int   // answers by HTTP status code
	NoAnswer  int           // requests that got no HTTP answer (refused, timed out, canceled)
	FirstErr  error         // why the first of those failed
	Elapsed   time.Duration // from the first request to the last answer
	latencies []time.Duration
}

// OK is the number of 200 answers.
func (r Result) OK() int { return r.Status[http.StatusOK] }

// Errors is the number of requests not answered 200.
func (r Result) Errors() int { return r.Requests - r.OK() }

// PerSecond is requests finished per second of Elapsed.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Percentile returns the latency at p (0..1] of answered requests, nearest rank.
func (r Result) Percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(r.latencies)))) - 1
	return r.latencies[max(0, min(i, len(r.latencies)-1))]
}

// Generate sends n requests, built by next, with concurrency workers
// each waiting for its answer before its next request, and at most rate
// requests per second in all (0: no limit; request i is not sent before
// start + i/rate). The latency is from sending a request to having read its
// whole answer. It stops early when ctx ends; Requests says how many were sent.
func Generate(ctx context.Context, client *http.Client, n, concurrency int, rate float64,
	next func(i int) (*http.Request, error)) Result {
	concurrency = max(1, min(concurrency, n))
	parts := make([]Result, concurrency)
	var counter atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range concurrency {
		p := &parts[w]
		p.Status = map[int]int{}
		wg.Go(func() {
			for {
				i := int(counter.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if rate > 0 && !sleepUntil(ctx, start.Add(time.Duration(float64(i)/rate*float64(time.Second)))) {
					return
				}
				p.one(client, i, next)
			}
		})
	}
	wg.Wait()
	res := Result{Status: map[int]int{}, Elapsed: time.Since(start)}
	for _, p := range parts {
		res.Requests += p.Requests
		res.NoAnswer += p.NoAnswer
		if res.FirstErr == nil {
			res.FirstErr = p.FirstErr
		}
		for code, c := range p.Status {
			res.Status[code] += c
		}
		res.latencies = append(res.latencies, p.latencies...)
	}
	slices.Sort(res.latencies)
	return res
}

// Add returns r and o together, as if one run: counts and elapsed times add up.
func (r Result) Add(o Result) Result {
	sum := Result{Requests: r.Requests + o.Requests, Status: map[int]int{}, NoAnswer: r.NoAnswer + o.NoAnswer,
		FirstErr: cmp.Or(r.FirstErr, o.FirstErr), Elapsed: r.Elapsed + o.Elapsed}
	for _, m := range []map[int]int{r.Status, o.Status} {
		for code, c := range m {
			sum.Status[code] += c
		}
	}
	sum.latencies = append(append(make([]time.Duration, 0, len(r.latencies)+len(o.latencies)), r.latencies...), o.latencies...)
	slices.Sort(sum.latencies)
	return sum
}

func (r *Result) one(client *http.Client, i int, next func(int) (*http.Request, error)) {
	r.Requests++
	req, err := next(i)
	if err != nil {
		r.noAnswer(err)
		return
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		r.noAnswer(err)
		return
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes))
	resp.Body.Close()
	if err != nil {
		r.noAnswer(fmt.Errorf("read answer: %w", err))
		return
	}
	r.latencies = append(r.latencies, time.Since(t0))
	r.Status[resp.StatusCode]++
}

func (r *Result) noAnswer(err error) {
	r.NoAnswer++
	if r.FirstErr == nil {
		r.FirstErr = err
	}
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Print writes the summary of a simulate run.
func (r Result) Print(w io.Writer, what, target string, concurrency int, rate float64) {
	limit := "unlimited"
	if rate > 0 {
		limit = strconv.FormatFloat(rate, 'g', -1, 64) + "/s"
	}
	fmt.Fprintf(w, "%d %s deliveries to %s in %.3fs: %.1f req/s (concurrency %d, rate %s)\n",
		r.Requests, what, target, r.Elapsed.Seconds(), r.PerSecond(), concurrency, limit)
	for _, c := range slices.Sorted(maps.Keys(r.Status)) {
		fmt.Fprintf(w, "  %d %s: %d\n", c, http.StatusText(c), r.Status[c])
	}
	if r.NoAnswer > 0 {
		fmt.Fprintf(w, "  no answer: %d (first: %v)\n", r.NoAnswer, r.FirstErr)
	}
	if len(r.latencies) > 0 {
		fmt.Fprintf(w, "latency p50 %s  p90 %s  p99 %s  max %s\n", Millis(r.Percentile(0.50)), Millis(r.Percentile(0.90)),
			Millis(r.Percentile(0.99)), Millis(r.Percentile(1)))
	}
}

// Millis formats d in milliseconds with two decimals.
func Millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
}
