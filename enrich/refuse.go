package enrich

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/schema"
)

// Exactly-once, a record the brokers refuse for good fails its whole
// transaction, which is aborted and its batch read again: were the same
// record written again, the member would abort forever. So the member
// remembers which polled record (raw or retry topic, partition, offset:
// never its content) the refused record was written for, and when it reads
// that record again it dead-letters it (unproducible) instead; the rest of
// the batch goes through. A DLQ record refused in turn is written without
// its value the next time; refused maxStrikes times, the record is given
// up (logged by topic, partition and offset, counted), so the partition
// moves on.
//
// kgo fails a transactional producer's every buffered record with the error
// of the first refused batch, so the culprit is told apart by order: promises
// are delivered in order, and the records blamed are those refused on the
// first refused batch's topic and partition. When they came from more than
// one polled record, each is only a suspect: transactions then poll one
// record at a time (isolate) until every suspect went through or was
// refused alone.

// maxStrikes is how many transactions a polled record may fail before it is
// given up: its first record, its DLQ record, and its DLQ record without
// value.
const maxStrikes = 3

// maxRefusals bounds the polled records remembered (the oldest is
// forgotten first); an entry leaves once its transaction commits.
const maxRefusals = 4096

// maxIsolated bounds how many transactions in a row poll one record for
// suspects that never come back (a partition that moved away and back):
// then the suspects are forgotten.
const maxIsolated = 256

// rawRef names a polled record: the raw or retry record a refused record
// was written for.
type rawRef struct {
	topic     string
	partition int32
	offset    int64
}

func refOf(r *kgo.Record) rawRef { return rawRef{r.Topic, r.Partition, r.Offset} }

// refusal is what is known of one polled record whose records were refused.
type refusal struct {
	strikes int     // transactions failed for certain because of it
	dlq     bool    // one of them failed on its DLQ record
	code    string  // the broker's error code, e.g. MESSAGE_TOO_LARGE
	dead    deadWhy // why it went to the DLQ, when its DLQ record was refused
	suspect bool    // blamed with others: not sure yet
	handled bool    // dispatched in the open transaction
}

type refusals struct {
	mu       sync.Mutex
	m        map[rawRef]*refusal
	order    []rawRef // oldest first, for the bound
	isolated int      // transactions in a row polled one record for suspects
}

// lookup returns what is known of ref when it is certain (a copy), and marks
// it handled in the open transaction.
func (r *refusals) lookup(ref rawRef) (refusal, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.m[ref]
	if !ok {
		return refusal{}, false
	}
	f.handled = true
	return *f, !f.suspect
}

// isolate reports whether the next transaction must poll one record only.
func (r *refusals) isolate() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.m {
		if f.suspect {
			return true
		}
	}
	return false
}

// ended settles the open transaction: committed, the records it handled
// are forgotten; aborted, those blamed (certain when only one polled record
// is) take a strike. One more transaction of one record with no suspect
// resolved counts towards maxIsolated.
func (r *refusals) ended(committed bool, blamed map[rawRef]blame, isolated bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	resolved := false
	for ref, f := range r.m {
		switch {
		case committed && f.handled:
			resolved = resolved || f.suspect
			delete(r.m, ref)
		default:
			f.handled = false
		}
	}
	certain := len(blamed) == 1
	for ref, b := range blamed {
		f, ok := r.m[ref]
		if !ok {
			f = &refusal{suspect: true}
			if r.m == nil {
				r.m = map[rawRef]*refusal{}
			}
			r.m[ref] = f
			r.order = append(r.order, ref)
		}
		if certain {
			resolved = resolved || f.suspect
			f.suspect = false
			f.strikes++
			f.dlq = f.dlq || b.dlq
			f.code = b.code
			if b.dead.reason != "" {
				f.dead = b.dead
			}
		}
	}
	for len(r.m) > maxRefusals && len(r.order) > 0 {
		delete(r.m, r.order[0])
		r.order = r.order[1:]
	}
	if len(r.order) > 2*maxRefusals { // entries deleted above leave holes
		live := r.order[:0]
		for _, ref := range r.order {
			if _, ok := r.m[ref]; ok {
				live = append(live, ref)
			}
		}
		r.order = live
	}
	switch {
	case !isolated || resolved || len(blamed) > 0:
		r.isolated = 0
	default:
		r.isolated++
		if r.isolated > maxIsolated {
			for ref, f := range r.m {
				if f.suspect {
					delete(r.m, ref)
				}
			}
			r.isolated = 0
		}
	}
}

// forgetSuspectsNotIn drops suspects of partitions owned reports as gone:
// they are not read here again.
func (r *refusals) forgetSuspectsNotIn(owned func(topic string, p int32) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ref, f := range r.m {
		if f.suspect && !owned(ref.topic, ref.partition) {
			delete(r.m, ref)
		}
	}
}

// blame is why a polled record is blamed for an aborted transaction.
type blame struct {
	code string
	dlq  bool    // the refused record was its DLQ record
	dead deadWhy // that DLQ record's reason
}

// deadWhy is what a refused DLQ record said, so that the record written
// again without its value says the same.
type deadWhy struct {
	reason   schema.DLQReason
	err      string
	attempts int
	first    time.Time
}

func deadWhyOf(r *kgo.Record) deadWhy {
	attempts, _ := strconv.Atoi(schema.Header(r, schema.HeaderDLQAttempts))
	first, _ := time.Parse(time.RFC3339Nano, schema.Header(r, schema.HeaderDLQFirstFailure))
	return deadWhy{reason: schema.DLQReason(schema.Header(r, schema.HeaderDLQReason)), err: schema.Header(r, schema.HeaderDLQError),
		attempts: attempts, first: first}
}

// blameLog collects, from the produce promises of the open transaction,
// the polled records whose records the brokers refused for good.
type blameLog struct {
	mu     sync.Mutex
	first  *kgo.Record // the first refused record
	veto   bool        // the first refused record was written for no polled record (owner, state)
	blamed map[rawRef]blame
}

func (b *blameLog) reset() {
	b.mu.Lock()
	b.first, b.veto, b.blamed = nil, false, nil
	b.mu.Unlock()
}

// refused notes that r, written for the polled records from (none: a
// record of the member's own), failed with err.
func (b *blameLog) refused(r *kgo.Record, from []rawRef, err error, dlqTopic string) {
	code, ok := permanentCode(err)
	if !ok {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.first == nil {
		b.first, b.veto = r, len(from) == 0
	}
	if b.veto || r.Topic != b.first.Topic || r.Partition != b.first.Partition {
		return // another batch, failed only because the first one was
	}
	if b.blamed == nil {
		b.blamed = map[rawRef]blame{}
	}
	for _, ref := range from {
		bl := b.blamed[ref]
		bl.code = code
		if r.Topic == dlqTopic {
			bl.dlq, bl.dead = true, deadWhyOf(r)
		}
		b.blamed[ref] = bl
	}
}

// take returns the records blamed in the open transaction.
func (b *blameLog) take() map[rawRef]blame {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.veto {
		return nil
	}
	return b.blamed
}

// permanentCode is the broker's error code when err refuses a record for
// good, whatever the transaction: its size or its content. Errors of the
// producer or transaction, and of the topic (an ACL, a bad name, a
// policy), are not the record's: they fail every record alike, and giving
// records up for them would lose them; those records stay with the group,
// read again, until the setup is fixed.
func permanentCode(err error) (string, bool) {
	for _, perm := range []*kerr.Error{kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord,
		kerr.CorruptMessage, kerr.InvalidTimestamp} {
		if errors.Is(err, perm) {
			return perm.Message, true
		}
	}
	return "", false
}

// refusedRecord handles a polled record read again after the brokers
// refused a record written for it: to the DLQ (without its value once its
// DLQ record was refused), or given up after maxStrikes.
func (e *Enricher) refusedRecord(it *item, f refusal) {
	if f.strikes >= maxStrikes {
		e.giveUp(it, f.code)
		return
	}
	if d := f.dead; d.reason != "" { // its DLQ record was refused: once more, without the value
		e.deadLetterFit([]*item{it}, d.reason, errors.New(d.err), d.attempts, cmp.Or(d.first, e.cfg.Now()), true)
		return
	}
	cause := fmt.Errorf("the brokers refused a record written for it for good (%s)", f.code)
	// Back from the retry topic, it keeps its attempts and first failure.
	first := it.first
	if first.IsZero() {
		first = e.cfg.Now()
	}
	e.deadLetterFit([]*item{it}, schema.DLQReasonUnproducible, cause, max(f.strikes, it.attempt), first, f.dlq)
}

// giveUp marks a polled record done without any record written for it:
// the brokers refused even its DLQ record. Logged by where it is, never by
// what it holds.
func (e *Enricher) giveUp(it *item, code string) {
	e.log.Error("giving up on a record the brokers refuse, its DLQ record too; it is skipped",
		zap.String("topic", it.rec.Topic), zap.Int32("partition", it.rec.Partition), zap.Int64("offset", it.rec.Offset),
		zap.String("code", code))
	e.m.dropped.Inc()
	e.m.records.WithLabelValues(providerOf(it.ev), "dropped").Inc()
	it.done()
}
