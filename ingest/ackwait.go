package ingest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// ackDeadlines makes the contexts webhooks wait for their acks under: the
// request's values (its trace span), not its cancellation, and a deadline
// of Config.AckTimeout. That is what
// context.WithTimeout(context.WithoutCancel(r.Context()), d) makes, without
// a timer per delivery: deadlines are rounded down to a tick (a sixteenth
// of the timeout, at most 50 ms), and the deliveries of one tick share one
// timer and one done channel. A new timer, its context and their channel
// were four of ingest's allocations per webhook.
//
// Not the request's cancellation: kgo fails a whole batch when its first
// record's context ends, so one client hanging up would fail its
// neighbours' records. Nor a pooled context: kgo keeps a record's context
// after its promise (the producer-ID request derives from it).
type ackDeadlines struct {
	timeout, tick time.Duration
	epoch         time.Time // slot i ends at epoch + i*tick (monotonic)
	mu            sync.Mutex
	last          atomic.Pointer[ackSlot]
}

// ackSlot is the end of every ack wait that ends at one tick.
type ackSlot struct {
	i        int64
	deadline time.Time
	done     chan struct{} // closed at deadline
}

func newAckDeadlines(timeout time.Duration) *ackDeadlines {
	tick := max(min(timeout/16, 50*time.Millisecond), 1)
	return &ackDeadlines{timeout: timeout, tick: tick, epoch: time.Now()}
}

// context returns a context with parent's values that ends within the
// timeout from now, a tick at most before it.
func (a *ackDeadlines) context(parent context.Context) context.Context {
	// WithoutCancel: also context.Cause, and contexts made from this one,
	// must not find the request's cancellation through Value.
	return &ackContext{parent: context.WithoutCancel(parent), slot: a.slot()}
}

func (a *ackDeadlines) slot() *ackSlot {
	i := int64((time.Since(a.epoch) + a.timeout) / a.tick)
	if s := a.last.Load(); s != nil && s.i >= i {
		// >: a later slot made meanwhile, which ends at most the
		// nanoseconds since i was computed past the timeout.
		return s
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.last.Load(); s != nil && s.i >= i {
		return s
	}
	s := &ackSlot{i: i, deadline: a.epoch.Add(time.Duration(i) * a.tick), done: make(chan struct{})}
	time.AfterFunc(time.Until(s.deadline), func() { close(s.done) })
	a.last.Store(s)
	return s
}

type ackContext struct {
	parent context.Context
	slot   *ackSlot
}

func (c *ackContext) Deadline() (time.Time, bool) { return c.slot.deadline, true }
func (c *ackContext) Done() <-chan struct{}       { return c.slot.done }
func (c *ackContext) Value(key any) any           { return c.parent.Value(key) }

func (c *ackContext) Err() error {
	select {
	case <-c.slot.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}
