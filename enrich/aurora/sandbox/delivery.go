package sandbox

import (
	"context"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
)

// DefaultWebhookTimeout is Aurora's: a webhook not answered within 10 s has
// failed.
const DefaultWebhookTimeout = 10 * time.Second

// retrySchedule is Aurora's wait before each of the 5 retries of a failed
// webhook (aurora-webhooks-overview.txt, "Retries").
var retrySchedule = [...]time.Duration{
	30 * time.Second, 5 * time.Minute, 30 * time.Minute, 3 * time.Hour, 20 * time.Hour,
}

// RetrySchedule returns Aurora's waits before the 5 retries of a failed
// webhook: 30 s, 5 min, 30 min, 3 h, 20 h. A delivery makes at most
// 1+len(RetrySchedule()) attempts.
func RetrySchedule() []time.Duration { return slices.Clone(retrySchedule[:]) }

// maxDeliveries bounds the delivery records a long-running dev sandbox
// keeps; finished ones are dropped oldest first beyond it.
const maxDeliveries = 10000

// SetRetryCompression changes the divisor of the retry schedule (below 1
// means 1). Waits already begun keep their length.
func (s *Server) SetRetryCompression(f float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setRetryCompressionLocked(f)
}

func (s *Server) setRetryCompressionLocked(f float64) {
	s.compression = max(f, 1)
}

// Attempt is one webhook request.
type Attempt struct {
	At     time.Time
	Status int    // HTTP status answered; 0 when none arrived
	Error  string // transport error (timeout, refused); "" when answered
}

// Delivery records one webhook for one subscription and its attempts.
type Delivery struct {
	ID         string
	WebhookID  string
	TenantID   string
	Event      string
	Attributes map[string]string
	URL        string // requested by the latest attempt, placeholders substituted
	Attempts   []Attempt
	Delivered  bool // an attempt was answered 2xx
	Done       bool // no further attempt will be made
	// Outcome says why the delivery is done: "delivered", "retries
	// exhausted", "webhook deleted", "webhook disabled", "webhook changed"
	// (the subscription no longer matches) or "server closed". "" while
	// pending.
	Outcome string
}

// Fire sends the event to every enabled subscription of the tenant for that
// event whose filters allow attrs, as Aurora does, and returns how many
// deliveries it started. Deliveries run in the background under the
// Server's lifetime, not ctx's (Aurora delivers after the call that caused
// the event has returned); ctx only stops Fire from starting any when it is
// already done. Each delivery is a GET to the subscription's url_template
// with the placeholders substituted, with its header or basic auth; a
// non-2xx answer, a redirect or no answer within the timeout is retried on
// RetrySchedule divided by the retry compression, each retry reading the
// subscription afresh (a deleted, disabled or changed one stops retrying).
// attrs use the lower-case attribute names: {"lead_id": "...", "source": "api"}.
func (s *Server) Fire(ctx context.Context, tenantID, event string, attrs map[string]string) int {
	if ctx.Err() != nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0
	}
	n := 0
	for _, id := range s.hookOrder[tenantID] {
		if !s.hooks[tenantID][id].matches(event, attrs) {
			continue
		}
		d := &Delivery{
			ID:         uuid.NewString(),
			WebhookID:  id,
			TenantID:   tenantID,
			Event:      event,
			Attributes: maps.Clone(attrs),
		}
		s.deliveries = append(s.deliveries, d)
		s.wg.Go(func() { s.deliver(d) })
		n++
	}
	s.trimDeliveriesLocked()
	return n
}

func (s *Server) trimDeliveriesLocked() {
	for len(s.deliveries) > maxDeliveries {
		i := slices.IndexFunc(s.deliveries, func(d *Delivery) bool { return d.Done })
		if i < 0 {
			return
		}
		s.deliveries = slices.Delete(s.deliveries, i, i+1)
	}
}

func (s *Server) deliver(d *Delivery) {
	log := s.log.With(zap.String("tenant", d.TenantID), zap.String("webhook_id", d.WebhookID), zap.String("event", d.Event))
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			s.mu.Lock()
			wait := time.Duration(float64(retrySchedule[attempt-1]) / s.compression)
			s.mu.Unlock()
			if !sleep(s.ctx, wait) {
				s.finish(d, "server closed")
				return
			}
		}

		s.mu.Lock()
		cur, ok := s.hooks[d.TenantID][d.WebhookID]
		var hook Webhook
		if ok {
			hook = *cur
		}
		timeout := s.hookTimeout
		s.mu.Unlock()
		switch {
		case !ok:
			s.finish(d, "webhook deleted")
			return
		case !hook.Enabled:
			s.finish(d, "webhook disabled")
			return
		case !hook.matches(d.Event, d.Attributes):
			s.finish(d, "webhook changed")
			return
		}

		target := expandURL(hook.URLTemplate, d.Attributes)
		at := s.now()
		status, err := s.send(hook, target, timeout)
		a := Attempt{At: at, Status: status}
		if err != nil {
			a.Error = err.Error()
		}
		s.mu.Lock()
		d.URL = target
		d.Attempts = append(d.Attempts, a)
		s.mu.Unlock()

		switch {
		case status >= 200 && status < 300:
			log.Debug("sandbox webhook delivered", zap.Int("attempt", attempt+1), zap.Int("status", status))
			s.finish(d, "delivered")
			return
		case s.ctx.Err() != nil:
			s.finish(d, "server closed")
			return
		}
		log.Info("sandbox webhook failed", zap.Int("attempt", attempt+1), zap.Int("status", status))
		if attempt == len(retrySchedule) {
			s.finish(d, "retries exhausted")
			return
		}
	}
}

func (s *Server) finish(d *Delivery, outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d.Done, d.Outcome = true, outcome
	d.Delivered = outcome == "delivered"
}

// send makes one webhook request and returns the status answered, 0 if none.
func (s *Server) send(w Webhook, target string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "leadbridge-aurora-sandbox")
	if w.HeaderAuthKey != "" {
		req.Header.Set(w.HeaderAuthKey, w.HeaderAuthValue)
	}
	if w.BasicAuthUsername != "" {
		req.SetBasicAuth(w.BasicAuthUsername, w.BasicAuthPassword)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// Deliveries returns copies of the delivery records in firing order.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, len(s.deliveries))
	for i, d := range s.deliveries {
		out[i] = *d
		out[i].Attributes = maps.Clone(d.Attributes)
		out[i].Attempts = slices.Clone(d.Attempts)
	}
	return out
}

// WaitIdle blocks until every delivery started so far is done, or ctx ends.
func (s *Server) WaitIdle(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		pending := slices.ContainsFunc(s.deliveries, func(d *Delivery) bool { return !d.Done })
		s.mu.Unlock()
		if !pending {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
