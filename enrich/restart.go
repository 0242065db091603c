package enrich

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// fenced reports whether err means another producer with this member's
// transactional id took over. That is how a member that took over this
// member's partitions ends the transaction this member still had open
// (fenceZombie): when a broker failure held this member's End past the
// session timeout, the group gave its partitions away. Such a member is
// alive, and restarts like after any unusable client: its new client's
// InitProducerID takes the transactional id back, and it rejoins the group.
// Only a member fenced again and again stops (fencedTooOften): two processes
// configured with one transactional id would fence each other forever.
func fenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed)
}

// timedOut reports whether err ended a transaction that ran for took, at
// least the brokers' transaction timeout: they aborted it themselves and
// bumped its epoch, and say so with INVALID_PRODUCER_EPOCH (a fence is
// PRODUCER_FENCED). No other producer took the transactional id: the
// member restarts, and it is not counted as a fence.
func timedOut(err error, took, timeout time.Duration) bool {
	return took >= timeout && errors.Is(err, kerr.InvalidProducerEpoch)
}

// A member fenced maxFences times within fenceWindow stops.
const (
	maxFences   = 3
	fenceWindow = 10 * time.Minute
)

// stopFenced notes a fence (err, at now) and reports whether the member
// stops rather than restarts: at the maxFences-th fence within fenceWindow,
// or at once when the brokers refuse it the transactional id (an ACL, which
// no restart mends).
func (e *Enricher) stopFenced(err error, now time.Time) bool {
	return errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || e.fencedTooOften(now)
}

// fencedTooOften notes a fence at now and reports whether it is the
// maxFences-th within fenceWindow.
func (e *Enricher) fencedTooOften(now time.Time) bool {
	e.fences = append(slices.DeleteFunc(e.fences, func(t time.Time) bool { return now.Sub(t) >= fenceWindow }), now)
	return len(e.fences) >= maxFences
}

// restartBackoff is the pause between dropping a broken client and building
// the next one; while the brokers stay unreachable it grows, jittered, up to
// restartBackoffMax.
const restartBackoff, restartBackoffMax = time.Second, 5 * time.Second

// restart is crash-only recovery in-process, for a client whose transaction
// could not end or begin (kgo: "No returned error is retryable"): stop the
// member's work, close the client (bounded), and build a new client with the
// same transactional id. Its InitProducerID fences the old epoch and aborts
// the open transaction at the coordinator at once, so nothing waits for the
// transaction timeout; the new client rejoins the group and each assigned
// partition's state is restored as on any assignment. It returns the new
// session, or an error when ctx ends first.
func (e *Enricher) restart(ctx context.Context, cause error) (*kgo.GroupTransactSession, error) {
	e.m.restarts.Inc()
	e.log.Warn("kafka client unusable; restarting the member with a new client and the same transactional id", zap.Error(cause))
	old := e.sess
	e.workStop()
	e.workers.Wait()
	e.mu.Lock()
	e.retired[old.Client()] = true // its rebalance callbacks no longer touch this member's partitions
	for id := range e.parts {
		e.m.lag.DeleteLabelValues(fmt.Sprint(id))
	}
	e.parts, e.retries, e.keys = map[int32]*partition{}, map[int32]*partition{}, map[string]*keyQueue{}
	e.workCtx, e.workStop = context.WithCancel(context.Background())
	e.mu.Unlock()
	e.rpause.forget(nil, "", nil) // the new client pauses nothing
	e.view.reset()                // the new client reads the brokers' offsets
	closed := make(chan struct{})
	go func() { old.Close(); close(closed) }()
	select { // leaving the group can wait on a broker that is gone; the group times the member out anyway
	case <-closed:
	case <-time.After(e.cfg.SessionTimeout):
		e.log.Warn("closing the old client is taking long; going on without waiting")
	}
	for attempt := 0; ; attempt++ {
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(max(restartBackoff, backoff(restartBackoff, restartBackoffMax, attempt))):
		}
		if _, err := e.NewClient(ctx, e.baseOpts...); err != nil {
			if ctx.Err() != nil {
				return nil, nil
			}
			e.log.Warn("restart: new kafka client", zap.Error(err))
			continue
		}
		e.txw.reset()
		e.log.Info("member restarted with a new client")
		return e.sess, nil
	}
}

// Client is the member's current Kafka client: a restart replaces the one
// NewClient returned. The caller closes it after Run.
func (e *Enricher) Client() *kgo.Client {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.client
}

// isRetired reports whether cl is a client a restart dropped.
func (e *Enricher) isRetired(cl *kgo.Client) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.retired[cl]
}
