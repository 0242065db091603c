package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/schema"
)

// item is one raw record on its way to a lead record.
type item struct {
	rec    *kgo.Record
	ev     schema.Event
	part   *partition
	ent    *entry
	key    string // lead key
	tenant string // Aurora tenant id (Aurora items)
	leadID string
	hook   schema.AuroraWebhook // what this Aurora event says beside the API (read at dispatch)
	aurora bool
	// erasure is set for an erasure event (erase or unerase, by erase).
	erasure, erase bool
	// From the retry topic's headers: attempts so far, when the lead first
	// failed and when it may be tried again.
	attempt          int
	first, notBefore time.Time
	// ahead is the Retrieve Lead call made for this event before its
	// transaction began (calls ahead), if any.
	ahead *callAhead
}

func (it *item) done() { it.part.finish(it.ent) }

// traced returns ctx carrying the trace context that the Kafka tracing hook
// (kotel, when tracing is on) left on the raw record, so the Retrieve Lead
// call and the lead record continue the webhook's trace. Without it, ctx.
func traced(ctx context.Context, r *kgo.Record) context.Context {
	if r == nil || r.Context == nil {
		return ctx
	}
	if sc := trace.SpanContextFromContext(r.Context); sc.IsValid() {
		return trace.ContextWithSpanContext(ctx, sc)
	}
	return ctx
}

// plausibleLeadID is one URL path segment of RFC 3986's unreserved
// characters: a lead id becomes part of the Retrieve Lead path, so anything
// else (".", "..", a slash, a query) never reaches the API.
var plausibleLeadID = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)

func validLeadID(id string) bool {
	return id != "." && id != ".." && plausibleLeadID.MatchString(id)
}

// dispatchFetches dispatches the records of fetches into the open
// transaction and returns parts with the partitions they came from added.
func (e *Enricher) dispatchFetches(fetches kgo.Fetches, parts []*partition) []*partition {
	defer e.notePeak()
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		part := e.partitionOf(fp.Topic, fp.Partition)
		if part == nil || len(fp.Records) == 0 {
			return
		}
		if !slices.Contains(parts, part) {
			parts = append(parts, part)
		}
		for _, r := range fp.Records {
			e.dispatch(part, r)
		}
		if fp.Topic == e.cfg.RetryTopic {
			e.rpause.polled(fp.Partition, fp.Records[len(fp.Records)-1].Offset)
		}
	})
	return parts
}

func (e *Enricher) logFetchErrors(fetches kgo.Fetches) {
	fetches.EachError(func(t string, p int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			e.log.Warn("fetch", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
		}
	})
}

// dispatch classifies a polled record and queues its work.
func (e *Enricher) dispatch(part *partition, r *kgo.Record) {
	ent := part.add(r)
	it := &item{rec: r, part: part, ent: ent}
	it.attempt, it.first, it.notBefore, _ = retryInfo(r)
	if e.txw != nil {
		if f, ok := e.txw.refused.lookup(refOf(r)); ok { // refused for good in an earlier attempt
			it.ev, _ = schema.DecodeRecord(r) // for the provider label only
			e.goWork(func() { e.refusedRecord(it, f) })
			return
		}
	}
	dead := func(reason schema.DLQReason, err error) {
		e.goWork(func() { e.deadLetter([]*item{it}, reason, err, 1, e.cfg.Now()) })
	}
	ev, err := schema.DecodeRecord(r)
	if err != nil {
		dead(schema.DLQReasonInvalidEvent, err)
		return
	}
	it.ev = ev
	switch {
	case ev.Type == schema.EraseEventType || ev.Type == schema.UneraseEventType:
		key := string(r.Key)
		if !isLeadKey(key) {
			dead(schema.DLQReasonInvalidEvent, errors.New("erasure event without a lead key"))
			return
		}
		it.key, it.erasure, it.erase = key, true, ev.Type == schema.EraseEventType
	case strings.HasPrefix(ev.Type, schema.AuroraTypePrefix):
		if !schema.IsAuroraLeadEvent(strings.TrimPrefix(ev.Type, schema.AuroraTypePrefix)) {
			e.m.records.WithLabelValues(schema.ProviderAurora, "skipped").Inc()
			it.done() // other Aurora events stay on the raw topic for whoever wants them
			return
		}
		d, id, reason, err := auroraLead(ev)
		if reason != "" {
			dead(reason, err)
			return
		}
		it.aurora, it.tenant, it.leadID, it.hook = true, d.TenantID, id, schema.AuroraWebhook{}.With(d)
		it.key = schema.AuroraKey(d.TenantID, id)
		if e.ahead != nil {
			it.ahead = e.ahead[r]
		}
	case strings.HasPrefix(ev.Type, schema.LeadProTypePrefix):
		switch strings.TrimPrefix(ev.Type, schema.LeadProTypePrefix) {
		case schema.LeadProLeadCreated, schema.LeadProLeadUpdated:
		default:
			dead(schema.DLQReasonUnknownEvent, errors.New("leadpro event type is not lead.created or lead.updated"))
			return
		}
		it.key = ev.PartitionKey
		if it.key == "" {
			it.key = string(r.Key)
		}
		// A delivery without data.id is keyed by its account alone.
		if parts := strings.SplitN(it.key, ":", 3); len(parts) < 3 || parts[2] == "" {
			dead(schema.DLQReasonNoLeadID, errors.New("leadpro event without data.id"))
			return
		}
	default:
		e.m.records.WithLabelValues("other", "skipped").Inc()
		it.done()
		return
	}
	e.enqueue(it)
}

// auroraLead reads an Aurora lead event's data, tenant and lead id; a
// reason says why it has none.
func auroraLead(ev schema.Event) (d schema.AuroraData, id string, reason schema.DLQReason, err error) {
	if err := json.Unmarshal(ev.Data, &d); err != nil || d.TenantID == "" {
		return d, "", schema.DLQReasonInvalidEvent, errors.New("aurora lead event without tenant_id")
	}
	id = d.Attributes["lead_id"]
	switch {
	case id == "":
		return d, "", schema.DLQReasonNoLeadID, errors.New("aurora lead event without lead_id")
	case !validLeadID(id):
		return d, "", schema.DLQReasonInvalidLeadID, errors.New("aurora lead_id is not a plausible path segment")
	}
	return d, id, "", nil
}

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
		// Erasure events split the batch: what came before them is served
		// first, what came after sees the key erased (or no longer).
		for len(live) > 0 {
			n := 1
			for n < len(live) && !live[n].erasure && !live[0].erasure {
				n++
			}
			run := live[:n]
			live = live[n:]
			switch {
			case run[0].erasure:
				e.stopAhead(run[0].key) // no call ahead for the key after its erasure
				e.applyErasure(run[0])
			case e.erased(run[0]):
				e.m.records.WithLabelValues(providerOf(run[0].ev), "erased").Add(float64(len(run)))
				finishAll(run) // an erased key's events never reach the API
			case run[0].aurora:
				e.enrichAurora(run)
			default:
				for _, it := range run {
					e.fromLeadPro(it)
				}
			}
		}
	}
}

func (e *Enricher) fromLeadPro(it *item) {
	lead, err := schema.LeadFromLeadPro(it.ev)
	if err != nil {
		e.deadLetter([]*item{it}, schema.DLQReasonUnmappable, err, 1, e.cfg.Now())
		return
	}
	e.produceLead([]*item{it}, lead)
}
