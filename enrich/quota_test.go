package enrich

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// callsIn counts the times in calls within any window of length w, at most.
func maxInWindow(calls []time.Time, w time.Duration) int {
	best := 0
	for i := range calls {
		n := 0
		for j := i; j < len(calls) && calls[j].Sub(calls[i]) < w; j++ {
			n++
		}
		best = max(best, n)
	}
	return best
}

// A member's budget is its share of the group's, kept in every window.
func TestQuotaKeepsShare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQuota(120, time.Now)
		q.setShare(1, 2) // half the partitions: 60 a minute, 54 with headroom
		var calls []time.Time
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		for q.wait(ctx, "tok") == nil {
			calls = append(calls, time.Now())
		}
		if got := maxInWindow(calls, time.Minute); got > 55 {
			t.Fatalf("%d calls in a minute, the share allows 54 (+1 burst)", got)
		}
		if len(calls) < 150 {
			t.Fatalf("%d calls in 3 minutes: the budget is not being used", len(calls))
		}
	})
}

// A 429 pauses its token for the Retry-After, halves its rate for a minute,
// and leaves other tokens alone.
func TestQuotaThrottle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQuota(600, time.Now) // 9 a second with headroom
		q.setShare(1, 1)
		ctx := t.Context()
		_ = q.wait(ctx, "a")
		_ = q.wait(ctx, "b")
		q.throttled("a", 10*time.Second)
		start := time.Now()
		_ = q.wait(ctx, "b")
		if time.Since(start) > time.Second {
			t.Fatal("a throttled token slowed another")
		}
		_ = q.wait(ctx, "a")
		if took := time.Since(start); took < 10*time.Second {
			t.Fatalf("throttled token sent after %v, before its Retry-After of 10s", took)
		}
		// For the rest of the minute, half the rate: 4.5 a second.
		var mu sync.Mutex
		n := 0
		slowCtx, cancel := context.WithTimeout(ctx, 40*time.Second)
		defer cancel()
		for q.wait(slowCtx, "a") == nil {
			mu.Lock()
			n++
			mu.Unlock()
		}
		if n > 40*5 {
			t.Fatalf("%d calls in 40 s while slowed, want about 180", n)
		}
		// After the minute, the full rate again.
		time.Sleep(30 * time.Second)
		fullCtx, cancel2 := context.WithTimeout(ctx, 10*time.Second)
		defer cancel2()
		n = 0
		for q.wait(fullCtx, "a") == nil {
			n++
		}
		if n < 80 {
			t.Fatalf("%d calls in 10 s after the slow minute, want about 90", n)
		}
	})
}

// Backoff grows exponentially from base, never exceeds max, and jitters
// within the upper half.
// A rebalance (a new share) during a token's slow minute after a 429 keeps
// the token at half the new share's rate; other tokens take the full rate.
func TestQuotaSlowTokenStaysSlowAcrossRebalance(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	q := newQuota(90, func() time.Time { return now })
	q.setShare(1, 1)
	q.budget("other")
	q.throttled("tok", time.Second)
	q.setShare(2, 2) // a rebalance: the same share, limits set anew
	full := q.limit()
	if got := q.tokens["tok"].lim.Limit(); got != full/2 {
		t.Fatalf("throttled token after a rebalance: %v calls/s, want half of %v", got, full)
	}
	if got := q.tokens["other"].lim.Limit(); got != full {
		t.Fatalf("other token: %v calls/s, want %v", got, full)
	}
	now = now.Add(time.Minute + time.Second) // the slow minute is over
	q.setShare(1, 2)
	if got, want := q.tokens["tok"].lim.Limit(), q.limit(); got != want {
		t.Fatalf("after its slow minute: %v calls/s, want %v", got, want)
	}
}

func TestBackoff(t *testing.T) {
	base, maxWait := 100*time.Millisecond, 5*time.Second
	for attempt := range 12 {
		cap := min(base<<attempt, maxWait)
		for range 200 {
			d := backoff(base, maxWait, attempt)
			if d < cap/2 || d > cap {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, cap/2, cap)
			}
		}
	}
}
