package enrich

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/schema"
)

// errConvertedLag: the webhook said lead_converted with a project id the API
// does not show yet.
var errConvertedLag = errors.New("lead_converted: the API does not show the project yet")

// enrichAurora serves every waiting event of one Aurora lead with one
// Retrieve Lead call (it returns the current state), retrying as the error
// says, and produces one record reflecting the newest event.
func (e *Enricher) enrichAurora(items []*item) {
	last := items[len(items)-1]
	ctx := last.part.ctx
	token, ok := e.cfg.APITokens[last.tenant]
	if !ok {
		e.deadLetter(items, schema.DLQReasonNoAPIToken, fmt.Errorf("no Aurora API token configured for tenant %s", last.tenant), 0, e.cfg.Now())
		return
	}
	if len(items) > 1 {
		e.m.coalesced.Add(float64(len(items) - 1))
		e.m.records.WithLabelValues(schema.ProviderAurora, "coalesced").Add(float64(len(items) - 1))
	}
	hook := auroraWebhookOf(items)
	// Mapped without the webhook's project first, to see whether the API
	// shows it yet.
	apiHook := schema.AuroraWebhook{Source: hook.Source}
	var first time.Time
	attempt0 := 0
	for _, it := range items { // back from the retry topic: carry on its count and clock
		if it.attempt > attempt0 {
			attempt0, first = it.attempt, it.first
		}
	}
	if nb := last.notBefore; !nb.IsZero() {
		if !e.sleep(ctx, items, attempt0, first, nb) {
			return
		}
	}
	for attempt := attempt0 + 1; ; attempt++ {
		body, ran, batchOver, ok, err := e.retrieve(ctx, last, token.Reveal())
		if !ok {
			if ctx.Err() == nil { // the batch ended
				e.toRetry(items, attempt-1, first, e.cfg.Now())
			}
			return // revoked or shutting down: the group re-processes it
		}
		if ctx.Err() != nil {
			return
		}
		if batchOver && err != nil {
			now := e.cfg.Now()
			if first.IsZero() {
				first = now // cut ever since counts toward retry_for, so no lead bounces for good
			}
			if ran < e.cfg.BatchFor/2 && now.Sub(first) < e.cfg.RetryFor {
				// The batch, not the API, cut this call: it started late in
				// the batch. The lead tries again from the retry topic, and
				// the call does not count as a failed attempt.
				e.toRetry(items, attempt-1, first, now)
				return
			}
			// It had over half of BatchFor (an API this slow is failing),
			// or the lead has been cut for retry_for: it counts.
			err = &FetchError{Kind: ErrUnavailable, Err: fmt.Errorf("the batch ended during the call: %w", err)}
		}
		now := e.cfg.Now()
		if err == nil {
			lead, merr := schema.LeadFromAurora(last.ev, last.tenant, apiHook, body)
			if merr != nil {
				e.deadLetter(items, schema.DLQReasonUnmappable, merr, attempt, now)
				return
			}
			if lead.LeadID != last.leadID { // never key a record by what the API says
				e.deadLetter(items, schema.DLQReasonIDMismatch, errors.New("the API answered with another lead's id"), attempt, now)
				return
			}
			if hook.ProjectID == "" || lead.ProjectID != "" {
				e.produceLead(items, lead)
				return
			}
			if first.IsZero() {
				first = now
			}
			if now.Sub(first) >= e.cfg.NotFoundRetryFor {
				// API lag outlasted the wait: the webhook's word stands.
				lead, _ = schema.LeadFromAurora(last.ev, last.tenant, hook, body)
				e.produceLead(items, lead)
				return
			}
			err = errConvertedLag
		} else if first.IsZero() {
			first = now
		}
		wait, reason := e.retryWait(err, attempt, now.Sub(first), token.Reveal())
		if reason != "" {
			e.deadLetter(items, reason, err, attempt, first)
			return
		}
		e.log.Debug("retrying Retrieve Lead", zap.String("tenant", last.tenant), zap.String("event_id", last.ev.ID),
			zap.Int("attempt", attempt), zap.Duration("wait", wait), zap.Error(err))
		if !e.sleep(ctx, items, attempt, first, now.Add(wait)) {
			return
		}
	}
}

// retrieve is one attempt at last's lead: what the call made ahead for it
// got (an answer or the API's error) if it reached the API, else a call. Exactly-once, neither the
// quota wait nor the call outlasts the batch (batchOver: it ended during the
// call); ok=false: the batch or ctx ended before a call could start.
func (e *Enricher) retrieve(ctx context.Context, last *item, token string) (body []byte, ran time.Duration, batchOver, ok bool, err error) {
	if body, ran, ok, err := e.aheadAnswer(ctx, last); ok {
		return body, ran, false, true, err
	}
	bctx, cancel := e.batchContext(ctx)
	defer cancel()
	if err := e.quota.wait(bctx, token); err != nil {
		return nil, 0, false, false, nil
	}
	body, ran, err = e.call(traced(bctx, last.rec), last.tenant, token, last.leadID)
	return body, ran, bctx.Err() != nil, true, err
}

// auroraWebhookOf is schema.AuroraWebhookOf of the items' events, from the
// facts dispatch read when it decoded each event's data (the data is not
// decoded twice).
func auroraWebhookOf(items []*item) schema.AuroraWebhook {
	var w schema.AuroraWebhook
	for _, it := range items {
		if it.hook.Source != "" {
			w.Source = it.hook.Source
		}
		if it.hook.ProjectID != "" {
			w.ProjectID = it.hook.ProjectID
		}
	}
	return w
}

// batchContext bounds ctx by the end of the open batch (exactly-once);
// at-least-once it is ctx.
func (e *Enricher) batchContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if end := e.batchEnd.Load(); end != 0 {
		return context.WithDeadline(ctx, time.Unix(0, end))
	}
	return context.WithCancel(ctx)
}

// sleep waits until next for the next attempt. Exactly-once, a wait that
// would outlast the batch moves items to the retry topic instead, so no lead
// holds up a transaction; false means the items left this worker.
func (e *Enricher) sleep(ctx context.Context, items []*item, attempt int, first, next time.Time) bool {
	end := e.batchEnd.Load()
	if end != 0 && next.UnixNano() > end {
		e.toRetry(items, attempt, first, next)
		return false
	}
	var over <-chan struct{} // nil: waits forever
	if end != 0 {
		if p := e.batchOver.Load(); p != nil {
			over = *p
		}
		e.sleeping.Add(int64(len(items)))
		defer e.sleeping.Add(-int64(len(items)))
	}
	t := time.NewTimer(time.Until(next))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-over: // nothing else holds the batch: do not hold it either
		e.toRetry(items, attempt, first, next)
		return false
	case <-t.C:
		return true
	}
}

// retryWait decides after a failed attempt: the wait before the next one, or
// the DLQ reason when there is none. failing is how long the lead has failed.
func (e *Enricher) retryWait(err error, attempt int, failing time.Duration, token string) (wait time.Duration, dlqReason schema.DLQReason) {
	var left time.Duration // until the policy's time is up
	switch {
	case errors.Is(err, ErrUnauthorized):
		return 0, schema.DLQReasonUnauthorized
	case errors.Is(err, ErrNotFound), errors.Is(err, errConvertedLag):
		if failing >= e.cfg.NotFoundRetryFor {
			return 0, schema.DLQReasonNotFound
		}
		left = e.cfg.NotFoundRetryFor - failing
	case errors.Is(err, ErrThrottled), errors.Is(err, ErrUnavailable):
		if failing >= e.cfg.RetryFor {
			return 0, schema.DLQReasonRetriesExhausted
		}
		left = e.cfg.RetryFor - failing
		if ra, ok := retryAfter(err); ok {
			wait = min(ra, e.cfg.BackoffMax)
		}
		if errors.Is(err, ErrThrottled) {
			e.quota.throttled(token, wait)
		}
	default:
		return 0, schema.DLQReasonPermanent
	}
	// The last try comes when the time is up, not a whole backoff (up to
	// backoff_max) after it: a lead that never heals reaches the DLQ at
	// retry_for. A Retry-After is still honoured.
	return max(wait, min(backoff(e.cfg.BackoffBase, e.cfg.BackoffMax, attempt-1), left)), ""
}

// call is one Retrieve Lead call under the in-flight bound and the timeout.
// ran is the call's own time, without the wait for a slot.
func (e *Enricher) call(ctx context.Context, tenant, token, leadID string) (body []byte, ran time.Duration, err error) {
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	defer func() { <-e.sem }()
	if err := ctx.Err(); err != nil { // select picks at random when both are ready
		return nil, 0, err
	}
	e.m.inflight.Inc()
	defer e.m.inflight.Dec()
	cctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	start := time.Now()
	body, err = e.fetch.RetrieveLead(cctx, tenant, token, leadID)
	ran = time.Since(start)
	status := statusLabel(statusOf(err))
	e.m.apiCalls.WithLabelValues(status).Inc()
	e.m.apiTime.WithLabelValues(status).Observe(ran.Seconds())
	e.calls.add(ran)
	return body, ran, err
}

// callTimes sums the API calls' own times, for the transaction sizer.
type callTimes struct{ n, total atomic.Int64 }

func (c *callTimes) add(d time.Duration) { c.n.Add(1); c.total.Add(int64(d)) }

// take returns the mean call time since the last take, 0 if none.
func (c *callTimes) take() time.Duration {
	n, total := c.n.Swap(0), c.total.Swap(0)
	if n == 0 {
		return 0
	}
	return time.Duration(total / n)
}
