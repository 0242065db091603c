package enrich

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/schema"
)

// writer is where the records for one partition's items go: straight to
// the broker (at-least-once) or into the open transaction (exactly-once).
type writer interface {
	// write sends recs, all for items of part, written for the polled
	// records of from (none: the state the member keeps). ok is false when
	// they were not written: part was revoked or the member is stopping
	// (the group re-processes them), or the broker refused them for good
	// (err).
	write(part *partition, from []*item, recs ...*kgo.Record) (ok bool, err error)
	// txn reports whether state changes wait for a transaction to commit.
	txn() bool
}

// produceLead writes the lead record for items (all of one key; the last is
// the newest) and marks them done once it is written. A record without a
// source takes the one the key's state remembers. Nothing is produced
// for an erased key, for a record older than the key's newest (by provider
// updated_at), or for one whose content equals the key's last record.
func (e *Enricher) produceLead(items []*item, lead schema.Lead) {
	last := items[len(items)-1]
	provider := lead.Provider
	store := last.part.state
	id := idOf(lead.Key)
	prev, seen := store.get(id)
	next := prev
	updated, hasTime := schema.LeadUpdatedAt(lead)
	switch {
	case seen && prev.erased:
		e.m.records.WithLabelValues(provider, "erased").Add(float64(len(items)))
		finishAll(items)
		return
	case hasTime && seen && updated.UnixNano() < prev.updated:
		e.m.records.WithLabelValues(provider, "stale").Add(float64(len(items)))
		finishAll(items)
		return
	}
	if hasTime {
		next.updated = max(prev.updated, updated.UnixNano())
	}
	// Aurora sends a lead's source with lead_created only: a later record
	// of the key carries what the provider sent then, kept in the key's
	// state, never a value of our own.
	if lead.Source == "" {
		lead.Source = prev.source
	} else {
		next.source = intern(lead.Source)
	}
	value, err := marshalLead(lead)
	if err == nil {
		err = schema.CheckLead(lead) // ValidateLead's verdict on value, without decoding it again
	}
	if err != nil { // a mapping bug: never publish what breaks our own schema
		e.deadLetter(items, schema.DLQReasonSchemaViolation, err, 1, e.cfg.Now())
		return
	}
	next.hash = contentHash(lead)
	if seen && prev.hash == next.hash {
		if next != prev { // a newer updated_at with the same content: remember it
			e.putState(last.part, lead.Key, id, next)
		}
		e.m.records.WithLabelValues(provider, "unchanged").Add(float64(len(items)))
		finishAll(items)
		return
	}
	rec := leadEvent(lead, last.ev, value).Record()
	rec.Topic = e.cfg.LeadsTopic
	rec.Context = traced(context.Background(), last.rec) // never canceled: kgo fails a record whose Context ends
	if ok, err := e.out.write(last.part, items, rec); !ok {
		if refusedForGood(err) { // e.g. over max.message.bytes: the raw record still fits the DLQ
			e.deadLetter(items, schema.DLQReasonUnproducible, err, 1, e.cfg.Now())
		}
		return
	}
	e.putState(last.part, lead.Key, id, next)
	e.m.records.WithLabelValues(provider, "produced").Inc()
	e.m.latency.Observe(e.cfg.Now().Sub(last.ev.Time).Seconds())
	finishAll(items)
}

// putState records a key's new state (exactly-once: also on the state
// topic, in the open transaction).
func (e *Enricher) putState(part *partition, key string, id keyID, k keyState) {
	part.state.put(id, k, e.out.txn())
	if e.stateTopic() != "" {
		_, _ = e.out.write(part, nil, &kgo.Record{Topic: e.stateTopic(), Partition: part.id, Key: []byte(key),
			Value: schema.EncodeLeadState(k.lead())})
	}
}

// stateTopic is the state topic when state is durable, else "".
func (e *Enricher) stateTopic() string {
	if e.cfg.AtLeastOnce {
		return ""
	}
	return e.cfg.StateTopic
}

// contentHash identifies a lead record's content without its source_event,
// which differs for every raw event even when the lead did not change.
func contentHash(l schema.Lead) [16]byte {
	l.SourceEvent = schema.SourceEvent{}
	enc := leadEncoders.Get().(*leadEncoder)
	defer leadEncoders.Put(enc)
	b, _ := enc.encode(&l) // it marshalled once already
	h := sha256.Sum256(b)
	return [16]byte(h[:16])
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
	enc := leadEncoders.Get().(*leadEncoder)
	defer leadEncoders.Put(enc)
	b, err := enc.encode(&l)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(b), nil // one allocation of the record's size
}

// leadEncoder is a reusable encoder of lead records: a record is encoded
// twice per lead (its value and its content hash), and a fresh buffer grew
// through several allocations each time.
type leadEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var leadEncoders = sync.Pool{New: func() any {
	e := &leadEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// encode returns l's JSON, valid until the next encode.
func (e *leadEncoder) encode(l *schema.Lead) ([]byte, error) {
	e.buf.Reset()
	if err := e.enc.Encode(l); err != nil {
		return nil, err
	}
	return bytes.TrimRight(e.buf.Bytes(), "\n"), nil
}

// syncWriter produces each record and waits for its ack, retrying what can
// be retried until the partition is revoked or the member stops.
type syncWriter struct {
	e *Enricher
	// alone serializes the produces that follow a batch refused as too
	// large, so each goes in a batch without the others refused with it.
	alone sync.Mutex
}

func (w *syncWriter) txn() bool { return false }

func (w *syncWriter) write(part *partition, _ []*item, recs ...*kgo.Record) (bool, error) {
	for _, rec := range recs {
		if ok, err := w.produce(part, rec); !ok {
			return false, err
		}
	}
	return true, nil
}

func (w *syncWriter) produce(part *partition, rec *kgo.Record) (ok bool, err error) {
	e := w.e
	again := false // produced again after a batch was refused as too large
	for attempt := 0; ; attempt++ {
		if !part.beginProduce() {
			return false, nil
		}
		// Not canceled with the partition: a produce in flight finishes (or
		// times out after DeliveryTimeout) so revoke knows it is over.
		if again {
			w.alone.Lock()
		}
		err := e.client.ProduceSync(context.WithoutCancel(part.ctx), rec).FirstErr()
		if again {
			w.alone.Unlock()
		}
		part.endProduce()
		if err == nil {
			return true, nil
		}
		// The brokers refuse a batch whole, and kgo batches up to its own
		// bound (before compression) whatever a topic's max.message.bytes:
		// a record batched with one too large is refused with it. Produced
		// once more, one such record at a time, it goes in another batch
		// than the others refused; only the culprit fails again.
		if !again && (errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge)) {
			again = true
			continue
		}
		// Only a record refused for good is the caller's to dead-letter. An
		// error of the topic itself (an ACL, a bad name, a policy) refuses
		// every record alike: the record is produced again until the topic
		// is fixed, as after a broker failure, and its offset waits.
		if _, perm := permanentCode(err); perm || errors.Is(err, kgo.ErrClientClosed) {
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
// once the DLQ has them. A record too large for the DLQ with its headers
// goes without its value (HeaderDLQTruncated says how large it was), and
// one the brokers refuse for good too (at-least-once; exactly-once see
// refusals) is given up, logged and counted: no event is left undone, which
// would hold its partition's offsets back for good. Revoked or stopping,
// the rest is left to the group.
func (e *Enricher) deadLetter(items []*item, reason schema.DLQReason, cause error, attempts int, first time.Time) {
	e.deadLetterFit(items, reason, cause, attempts, first, false)
}

// deadLetterFit is deadLetter, writing the records without their values
// when truncate is set (their DLQ record was refused before).
func (e *Enricher) deadLetterFit(items []*item, reason schema.DLQReason, cause error, attempts int, first time.Time, truncate bool) {
	now := e.cfg.Now().UTC()
	fields := []zap.Field{zap.String("reason", string(reason)), zap.Int("events", len(items)), zap.Int("attempts", attempts)}
	if reason != schema.DLQReasonSchemaViolation { // schema errors may quote values; the DLQ header keeps them
		fields = append(fields, zap.Error(cause))
	}
	e.log.Warn("dead-lettering", fields...)
	for _, it := range items {
		rec := dlqRecord(e.cfg.DLQTopic, e.cfg.RawTopic, it.rec, reason, cause, attempts, first, now)
		cut := truncate || !fits(rec)
		if cut {
			rec = withoutValue(rec)
		}
		ok, err := e.out.write(it.part, []*item{it}, rec)
		if !ok && refusedForGood(err) && !cut { // try once without the value
			ok, err = e.out.write(it.part, []*item{it}, withoutValue(rec))
		}
		if !ok {
			if refusedForGood(err) {
				code, _ := permanentCode(err)
				e.giveUp(it, cmp.Or(code, "too large"))
				continue
			}
			return // revoked, stopping or a client closed: the group reads the rest again
		}
		e.m.dlq.WithLabelValues(string(reason)).Inc()
		e.m.records.WithLabelValues(providerOf(it.ev), "dlq").Inc()
		it.done()
	}
}

// refusedForGood reports whether a write's err says the brokers will never
// take the record (any other error leaves it to the group).
func refusedForGood(err error) bool {
	_, perm := permanentCode(err)
	return perm || errors.Is(err, errTooLarge)
}

// withoutValue is DLQ record r without its value, with HeaderDLQTruncated
// giving the value's size.
func withoutValue(r *kgo.Record) *kgo.Record {
	hs := append(slices.Clip(r.Headers), hdr(schema.HeaderDLQTruncated, strconv.Itoa(len(r.Value))))
	return &kgo.Record{Topic: r.Topic, Key: r.Key, Headers: hs}
}

// dlqRecord is raw record r, unchanged, with the DLQ headers. A record back
// from the retry topic loses its retry headers (a redrive would carry its
// old attempts and first failure back to raw) and names its raw origin.
func dlqRecord(topic, rawTopic string, r *kgo.Record, reason schema.DLQReason, cause error, attempts int, first, now time.Time) *kgo.Record {
	from, offset := r.Topic, strconv.FormatInt(r.Offset, 10)
	if o := schema.Header(r, schema.HeaderRetryRawOffset); o != "" {
		from, offset = rawTopic, o
	}
	return &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value,
		Headers: append(withoutRetryHeaders(r.Headers),
			hdr(schema.HeaderDLQReason, string(reason)),
			hdr(schema.HeaderDLQError, cause.Error()),
			hdr(schema.HeaderDLQAttempts, strconv.Itoa(attempts)),
			hdr(schema.HeaderDLQFirstFailure, first.UTC().Format(time.RFC3339Nano)),
			hdr(schema.HeaderDLQLastFailure, now.Format(time.RFC3339Nano)),
			hdr(schema.HeaderDLQTopic, from),
			hdr(schema.HeaderDLQPartition, strconv.Itoa(int(r.Partition))),
			hdr(schema.HeaderDLQOffset, offset),
		)}
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
