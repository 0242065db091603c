package ingest

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// An ack wait keeps the request's values, outlives the request's
// cancellation, and ends within the timeout, at most one tick before it.
// Waits begun in one tick share their end; a later one never ends earlier.
func TestAckDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 8 * time.Second
		type key struct{}
		parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "span"))
		a := newAckDeadlines(timeout)
		time.Sleep(123 * time.Millisecond) // not on a tick
		start := time.Now()
		ctx := a.context(parent)
		cancel() // the client hung up

		if got := ctx.Value(key{}); got != "span" {
			t.Errorf("Value = %v, want the request's value", got)
		}
		dl, ok := ctx.Deadline()
		if !ok || dl.After(start.Add(timeout)) || !dl.After(start.Add(timeout-a.tick)) {
			t.Errorf("Deadline = %v, %v; want within a tick (%v) before %v", dl, ok, a.tick, start.Add(timeout))
		}
		if same := a.context(parent); same.Done() != ctx.Done() {
			t.Error("two waits begun at one instant have separate done channels")
		}
		time.Sleep(timeout - a.tick)
		synctest.Wait()
		if err := ctx.Err(); err != nil {
			t.Fatalf("Err = %v a tick before the timeout; the request's cancellation must not end the wait", err)
		}
		later := a.context(parent)
		<-ctx.Done()
		if took := time.Since(start); took > timeout {
			t.Errorf("the wait ended after %v, past the %v timeout", took, timeout)
		}
		if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Err = %v after the deadline, want DeadlineExceeded", err)
		}
		// The hung-up request's cancellation is hidden from Cause too, as
		// context.WithoutCancel hides it, also from a context made from this one.
		derived, stop := context.WithCancel(ctx)
		defer stop()
		for name, c := range map[string]context.Context{"the wait": ctx, "a context made from it": derived} {
			if err := context.Cause(c); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Cause of %s = %v after the deadline, want DeadlineExceeded (not the request's cancellation)", name, err)
			}
		}
		if later.Err() != nil {
			t.Error("a wait begun a tick before the timeout ended with the first")
		}
		<-later.Done()
		if took := time.Since(start); took <= 2*timeout-2*a.tick || took > 2*timeout {
			t.Errorf("the later wait ended %v after the first began, want within a tick before %v", took, 2*timeout-a.tick)
		}
	})
}

// A timeout too short for ticks still ends, no later than asked.
func TestAckDeadlinesShortTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAckDeadlines(10 * time.Nanosecond)
		start := time.Now()
		<-a.context(context.Background()).Done()
		if took := time.Since(start); took > 10*time.Nanosecond {
			t.Errorf("ended after %v", took)
		}
	})
}
