package enrich

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// headroom keeps the group under the budget despite each member's burst of
// one request: a member allowed r per minute can make r+1 calls in a window.
const headroom = 0.9

// quota holds the Aurora request budget per API token for this member: the
// configured requests per minute times this member's share of the raw
// topic's partitions (the shares of all members sum to one), so the budget
// holds for the whole group. A 429 pauses the token for Retry-After and
// halves its rate for a minute. It is safe for concurrent use.
type quota struct {
	perMinute float64
	now       func() time.Time

	mu     sync.Mutex
	share  float64
	tokens map[string]*tokenBudget
}

type tokenBudget struct {
	lim         *rate.Limiter
	pausedUntil time.Time
	slowUntil   time.Time
}

func newQuota(perMinute int, now func() time.Time) *quota {
	return &quota{perMinute: float64(perMinute), now: now, tokens: make(map[string]*tokenBudget)}
}

func (q *quota) limit() rate.Limit {
	return rate.Limit(q.perMinute * q.share * headroom / 60)
}

// setShare sets this member's share of the partitions (owned/total).
func (q *quota) setShare(owned, total int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.share = 0
	if total > 0 {
		q.share = float64(owned) / float64(total)
	}
	now := q.now()
	for _, t := range q.tokens {
		t.lim.SetLimit(q.limitOf(t, now))
	}
}

// limitOf is token t's rate: this member's share, halved while a 429 keeps
// it slow (a rebalance within that minute must not restore the full rate).
func (q *quota) limitOf(t *tokenBudget, now time.Time) rate.Limit {
	if !t.slowUntil.IsZero() && now.Before(t.slowUntil) {
		return q.limit() / 2
	}
	return q.limit()
}

func (q *quota) budget(token string) *tokenBudget {
	t, ok := q.tokens[token]
	if !ok {
		t = &tokenBudget{lim: rate.NewLimiter(q.limit(), 1)}
		q.tokens[token] = t
	}
	return t
}

// wait blocks until a request with token may be sent, or ctx ends.
func (q *quota) wait(ctx context.Context, token string) error {
	for {
		q.mu.Lock()
		t := q.budget(token)
		now := q.now()
		pause := t.pausedUntil.Sub(now)
		if !t.slowUntil.IsZero() && now.After(t.slowUntil) {
			t.slowUntil = time.Time{}
			t.lim.SetLimit(q.limitOf(t, now))
		}
		q.mu.Unlock()
		if pause <= 0 {
			return t.lim.Wait(ctx)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}

// throttled records a 429 for token: pause it and halve its rate for a minute.
func (q *quota) throttled(token string, retryAfter time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	t := q.budget(token)
	now := q.now()
	if until := now.Add(max(retryAfter, time.Second)); until.After(t.pausedUntil) {
		t.pausedUntil = until
	}
	slow := !t.slowUntil.IsZero()
	t.slowUntil = now.Add(time.Minute)
	if !slow {
		t.lim.SetLimit(q.limitOf(t, now))
	}
}
