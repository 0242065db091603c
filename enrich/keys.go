package enrich

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/enrich/aurora"
	"github.com/leadbridge/leadbridge/schema"
)

// keyQueue holds the events of one lead key waiting for its worker. One
// worker per key keeps raw-topic order per lead; what queues up while the
// worker is busy is served together (one API call for an Aurora lead).
type keyQueue struct {
	waiting []*item
}

func (e *Enricher) enqueue(it *item) {
	e.mu.Lock()
	q, running := e.keys[it.key]
	if !running {
		q = &keyQueue{}
		e.keys[it.key] = q
	}
	q.waiting = append(q.waiting, it)
	e.mu.Unlock()
	if !running {
		e.goWork(func() { e.runKey(it.key) })
	}
}

// runKey serves a key's queue until it is empty, then forgets the key.
func (e *Enricher) runKey(key string) {
	for {
		e.mu.Lock()
		q := e.keys[key]
		batch := q.waiting
		q.waiting = nil
		if len(batch) == 0 {
			delete(e.keys, key)
			e.mu.Unlock()
			return
		}
		e.mu.Unlock()
		live := batch[:0]
		for _, it := range batch {
			if it.part.ctx.Err() == nil { // drop events of partitions this member lost
				live = append(live, it)
			}
		}
		if len(live) == 0 {
			continue
		}
		if live[0].aurora {
			e.enrichAurora(live)
			continue
		}
		for _, it := range live {
			e.fromLeadPro(it)
		}
	}
}

// enrichAurora serves every waiting event of one Aurora lead with one
// Retrieve Lead call (it returns the current state), retrying as the error
// says, and produces one record reflecting the newest event.
func (e *Enricher) enrichAurora(items []*item) {
	last := items[len(items)-1]
	ctx := last.part.ctx
	token, ok := e.cfg.APITokens[last.tenant]
	if !ok {
		e.deadLetter(items, "no_api_token", fmt.Errorf("no Aurora API token configured for tenant %s", last.tenant), 0, e.cfg.Now())
		return
	}
	if len(items) > 1 {
		e.m.coalesced.Add(float64(len(items) - 1))
		e.m.records.WithLabelValues(schema.ProviderAurora, "coalesced").Add(float64(len(items) - 1))
	}
	var first time.Time
	for attempt := 1; ; attempt++ {
		if err := e.quota.wait(ctx, token.Reveal()); err != nil {
			return // revoked or shutting down: the group re-processes it
		}
		body, err := e.call(ctx, last.tenant, token.Reveal(), last.leadID)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			evs := make([]schema.Event, len(items))
			for i, it := range items {
				evs[i] = it.ev
			}
			lead, err := schema.LeadFromAurora(last.ev, last.tenant, schema.AuroraWebhookOf(evs...), body)
			if err != nil {
				e.deadLetter(items, "unmappable", err, attempt, e.cfg.Now())
				return
			}
			e.produceLead(items, lead)
			return
		}
		now := e.cfg.Now()
		if first.IsZero() {
			first = now
		}
		var wait time.Duration
		switch {
		case aurora.IsAuth(err):
			e.deadLetter(items, "unauthorized", err, attempt, first)
			return
		case aurora.IsNotFound(err):
			if now.Sub(first) >= e.cfg.NotFoundRetryFor {
				e.deadLetter(items, "not_found", err, attempt, first)
				return
			}
		case aurora.IsRetryable(err):
			if now.Sub(first) >= e.cfg.RetryFor {
				e.deadLetter(items, "retries_exhausted", err, attempt, first)
				return
			}
			if ra, ok := aurora.RetryAfter(err); ok {
				wait = min(ra, e.cfg.BackoffMax)
			}
			var apiErr *aurora.APIError
			if errors.As(err, &apiErr) && apiErr.Status == 429 {
				e.quota.throttled(token.Reveal(), wait)
			}
		default:
			e.deadLetter(items, "permanent", err, attempt, first)
			return
		}
		wait = max(wait, backoff(e.cfg.BackoffBase, e.cfg.BackoffMax, attempt-1))
		e.log.Debug("retrying Retrieve Lead", zap.String("tenant", last.tenant), zap.String("event_id", last.ev.ID),
			zap.Int("attempt", attempt), zap.Duration("wait", wait), zap.Error(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// call is one Retrieve Lead call under the in-flight bound and the timeout.
func (e *Enricher) call(ctx context.Context, tenant, token, leadID string) ([]byte, error) {
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-e.sem }()
	e.m.inflight.Inc()
	defer e.m.inflight.Dec()
	cctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	start := time.Now()
	body, err := e.fetch.RetrieveLead(cctx, tenant, token, leadID)
	status := 0
	var apiErr *aurora.APIError
	switch {
	case err == nil:
		status = 200
	case errors.As(err, &apiErr):
		status = apiErr.Status
	}
	e.m.apiCalls.WithLabelValues(statusLabel(status)).Inc()
	e.m.apiTime.WithLabelValues(statusLabel(status)).Observe(time.Since(start).Seconds())
	return body, err
}

func (e *Enricher) fromLeadPro(it *item) {
	lead, err := schema.LeadFromLeadPro(it.ev)
	if err != nil {
		e.deadLetter([]*item{it}, "unmappable", err, 1, e.cfg.Now())
		return
	}
	e.produceLead([]*item{it}, lead)
}

// produceLead writes the lead record for items (all of one key; the last is
// the newest) and marks them done after the ack. A record older than the
// last one produced for the key (by provider updated_at) is not produced.
func (e *Enricher) produceLead(items []*item, lead schema.Lead) {
	last := items[len(items)-1]
	provider := lead.Provider
	updated, hasTime := schema.LeadUpdatedAt(lead)
	e.mu.Lock()
	prev, seen := e.lastUpdated[lead.Key]
	e.mu.Unlock()
	if hasTime && seen && updated.Before(prev) {
		e.m.records.WithLabelValues(provider, "stale").Add(float64(len(items)))
		finishAll(items)
		return
	}
	value, err := marshalLead(lead)
	if err == nil {
		err = schema.ValidateLead(value)
	}
	if err != nil { // a mapping bug: never publish what breaks our own schema
		e.deadLetter(items, "schema_violation", err, 1, e.cfg.Now())
		return
	}
	rec := leadEvent(lead, last.ev, value).Record()
	rec.Topic = e.cfg.LeadsTopic
	if ok, err := e.produce(last.part, rec); !ok {
		if err != nil { // e.g. over max.message.bytes: the raw record still fits the DLQ
			e.deadLetter(items, "unproducible", err, 1, e.cfg.Now())
		}
		return
	}
	if hasTime {
		e.remember(lead.Key, updated)
	}
	e.m.records.WithLabelValues(provider, "produced").Inc()
	e.m.latency.Observe(e.cfg.Now().Sub(last.ev.Time).Seconds())
	finishAll(items)
}

func (e *Enricher) remember(key string, t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if prev, ok := e.lastUpdated[key]; !ok || t.After(prev) {
		e.lastUpdated[key] = t
	}
	if len(e.lastUpdated) > maxRemembered {
		for k := range e.lastUpdated { // map order is random: forget an arbitrary tenth
			delete(e.lastUpdated, k)
			if len(e.lastUpdated) <= maxRemembered*9/10 {
				break
			}
		}
	}
}

// leadEvent is the CloudEvent of a lead record: ce_id and ce_source name the
// raw event it reflects, ce_rawtype its type.
func leadEvent(l schema.Lead, raw schema.Event, value []byte) schema.Event {
	return schema.Event{
		ID:           raw.ID,
		Source:       raw.Source,
		Type:         schema.LeadEventType,
		Subject:      l.LeadID,
		Time:         raw.Time,
		PartitionKey: l.Key,
		DataSchema:   schema.LeadSchemaID,
		Extensions:   map[string]string{schema.ExtRawType: raw.Type},
		Data:         value,
	}
}

// marshalLead encodes without HTML escaping so provider fields keep their bytes.
func marshalLead(l schema.Lead) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// produce writes rec and waits for the ack, retrying what can be retried
// until the partition is revoked or the member stops. ok reports the ack;
// err is set when the broker refused the record for good.
func (e *Enricher) produce(part *partition, rec *kgo.Record) (ok bool, err error) {
	for attempt := 0; ; attempt++ {
		if !part.beginProduce() {
			return false, nil
		}
		err := e.client.ProduceSync(context.WithoutCancel(part.ctx), rec).FirstErr()
		part.endProduce()
		if err == nil {
			return true, nil
		}
		if !kerr.IsRetriable(err) && !errors.Is(err, kgo.ErrRecordTimeout) && !errors.Is(err, kgo.ErrRecordRetries) {
			e.log.Error("produce failed permanently", zap.String("topic", rec.Topic), zap.Error(err))
			return false, err
		}
		e.log.Warn("produce failed; retrying", zap.String("topic", rec.Topic), zap.Error(err))
		select {
		case <-part.ctx.Done():
			return false, nil
		case <-time.After(backoff(e.cfg.BackoffBase, e.cfg.BackoffMax, attempt)):
		}
	}
}

func finishAll(items []*item) {
	for _, it := range items {
		it.done()
	}
}

// deadLetter writes each raw record unchanged to the DLQ with headers saying
// why, how many attempts, when, and where it came from; the events are done
// once the DLQ acknowledged them. A DLQ that cannot be written holds the
// offsets back (the error is logged): nothing is dropped silently.
func (e *Enricher) deadLetter(items []*item, reason string, cause error, attempts int, first time.Time) {
	now := e.cfg.Now().UTC()
	fields := []zap.Field{zap.String("reason", reason), zap.Int("events", len(items)), zap.Int("attempts", attempts)}
	if reason != "schema_violation" { // schema errors may quote values; the DLQ header keeps them
		fields = append(fields, zap.Error(cause))
	}
	e.log.Warn("dead-lettering", fields...)
	for _, it := range items {
		r := it.rec
		dl := &kgo.Record{Topic: e.cfg.DLQTopic, Key: r.Key, Value: r.Value,
			Headers: append(append([]kgo.RecordHeader(nil), r.Headers...),
				hdr(schema.HeaderDLQReason, reason),
				hdr(schema.HeaderDLQError, cause.Error()),
				hdr(schema.HeaderDLQAttempts, strconv.Itoa(attempts)),
				hdr(schema.HeaderDLQFirstFailure, first.UTC().Format(time.RFC3339Nano)),
				hdr(schema.HeaderDLQLastFailure, now.Format(time.RFC3339Nano)),
				hdr(schema.HeaderDLQTopic, r.Topic),
				hdr(schema.HeaderDLQPartition, strconv.Itoa(int(r.Partition))),
				hdr(schema.HeaderDLQOffset, strconv.FormatInt(r.Offset, 10)),
			)}
		if ok, _ := e.produce(it.part, dl); !ok {
			return // revoked, stopping, or the DLQ refused it (logged): the offset is held
		}
		e.m.dlq.WithLabelValues(reason).Inc()
		e.m.records.WithLabelValues(providerOf(it.ev), "dlq").Inc()
		it.done()
	}
}

func hdr(k, v string) kgo.RecordHeader { return kgo.RecordHeader{Key: k, Value: []byte(v)} }

func providerOf(ev schema.Event) string {
	switch {
	case strings.HasPrefix(ev.Type, schema.AuroraTypePrefix):
		return schema.ProviderAurora
	case strings.HasPrefix(ev.Type, schema.LeadProTypePrefix):
		return schema.ProviderLeadPro
	}
	return "unknown"
}
