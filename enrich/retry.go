package enrich

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/schema"
)

// retryInfo reads a retry record's headers; ok is false for a raw record.
func retryInfo(r *kgo.Record) (attempt int, first, notBefore time.Time, ok bool) {
	a := schema.Header(r, schema.HeaderRetryAttempt)
	if a == "" {
		return 0, time.Time{}, time.Time{}, false
	}
	attempt, _ = strconv.Atoi(a)
	first, _ = time.Parse(time.RFC3339Nano, schema.Header(r, schema.HeaderRetryFirstFailure))
	notBefore, _ = time.Parse(time.RFC3339Nano, schema.Header(r, schema.HeaderRetryNotBefore))
	return attempt, first, notBefore, true
}

// toRetry moves items to the retry topic, in the open transaction, to be
// tried again (attempt) not before notBefore. Their raw partition's commit
// point moves on.
func (e *Enricher) toRetry(items []*item, attempt int, first, notBefore time.Time) {
	for _, it := range items {
		r := it.rec
		rec := &kgo.Record{Topic: e.cfg.RetryTopic, Partition: it.part.id, Key: r.Key, Value: r.Value,
			Headers: withoutRetryHeaders(r.Headers)}
		rawOffset := schema.Header(r, schema.HeaderRetryRawOffset)
		if _, _, _, retried := retryInfo(r); !retried {
			rawOffset = strconv.FormatInt(r.Offset, 10)
		}
		rec.Headers = append(rec.Headers,
			hdr(schema.HeaderRetryAttempt, strconv.Itoa(attempt)),
			hdr(schema.HeaderRetryFirstFailure, first.UTC().Format(time.RFC3339Nano)),
			hdr(schema.HeaderRetryNotBefore, notBefore.UTC().Format(time.RFC3339Nano)))
		if rawOffset != "" { // a record the retry topic got before the header existed has none
			rec.Headers = append(rec.Headers, hdr(schema.HeaderRetryRawOffset, rawOffset))
		}
		if ok, _ := e.out.write(it.part, rec); !ok {
			return
		}
		e.rpause.wrote(rec, notBefore)
		e.m.records.WithLabelValues(providerOf(it.ev), "retried").Inc()
		it.done()
	}
}

// withoutRetryHeaders is hs less the retry headers: the raw record's own.
func withoutRetryHeaders(hs []kgo.RecordHeader) []kgo.RecordHeader {
	out := make([]kgo.RecordHeader, 0, len(hs)+4)
	for _, h := range hs {
		switch h.Key {
		case schema.HeaderRetryAttempt, schema.HeaderRetryNotBefore, schema.HeaderRetryFirstFailure, schema.HeaderRetryRawOffset:
		default:
			out = append(out, h)
		}
	}
	return out
}

// retryPause keeps a retry partition from being polled before its earliest
// pending record is due (exactly-once). Without it a record waiting out a
// long backoff comes back in every batch and is written again, taking room
// in each transaction from the raw records and keeping the member busy with
// nothing due. It knows the records this member wrote (their offsets once
// committed) and forgets each when a poll reaches its offset (for good once
// that transaction commits). A partition taken over from another member (or
// from this member's last client) stays unpaused until a committed
// transaction has read one of the records this member wrote there: before
// that, records it does not know may lie ahead of the poll, due before its
// own (read once and, if not due, written again here and known from then
// on); after it, everything ahead was written by this member. Pausing
// is safe: kgo drops buffered records of paused partitions and fetches
// them again after a resume.
type retryPause struct {
	mu       sync.Mutex
	written  []retryWrite           // records of the open transaction (Offset set once acked)
	pending  map[int32][]retryWrite // committed, not yet polled, by retry partition
	read     map[int32][]retryWrite // pending records polled in the open transaction, in offset order
	resumeAt map[int32]time.Time    // paused partitions: when their first record is due
	caught   map[int32]bool         // partitions read past their first record this member wrote: every record ahead is known
}

type retryWrite struct {
	rec *kgo.Record
	due time.Time
}

func newRetryPause() *retryPause {
	return &retryPause{pending: map[int32][]retryWrite{}, read: map[int32][]retryWrite{}, resumeAt: map[int32]time.Time{},
		caught: map[int32]bool{}}
}

// wrote notes a retry record of the open transaction, due at due.
func (r *retryPause) wrote(rec *kgo.Record, due time.Time) {
	r.mu.Lock()
	r.written = append(r.written, retryWrite{rec, due})
	r.mu.Unlock()
}

// ended settles the open transaction's records: committed (every record
// acknowledged, so its offset is known), they are pending; aborted, they
// never become visible. The pending records the transaction polled are
// forgotten once it commits; aborted, the consumer goes back to the
// committed offsets and reads them again, so they are pending again (else
// a partition could be paused past a record that is due).
func (r *retryPause) ended(committed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if committed {
		for _, w := range r.written {
			r.pending[w.rec.Partition] = append(r.pending[w.rec.Partition], w)
		}
		for p := range r.read {
			r.caught[p] = true
		}
	} else {
		for p, q := range r.read {
			r.pending[p] = append(q, r.pending[p]...)
		}
	}
	r.written = nil
	clear(r.read)
}

// polled forgets the pending records of partition p up to offset, for
// good once the open transaction commits.
func (r *retryPause) polled(p int32, offset int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.pending[p]
	n := 0
	for n < len(q) && q[n].rec.Offset <= offset {
		n++
	}
	if n == 0 {
		return
	}
	r.read[p] = append(r.read[p], q[:n]...)
	if n == len(q) {
		delete(r.pending, p)
	} else {
		r.pending[p] = q[n:]
	}
}

// plan pauses each caught-up retry partition whose pending records are all
// due later than now, until the first is due, and resumes the others.
func (r *retryPause) plan(cl *kgo.Client, topic string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var pause, resume []int32
	for p, q := range r.pending {
		if !r.caught[p] {
			continue // records this member does not know may come first
		}
		due := q[0].due
		for _, w := range q[1:] {
			if w.due.Before(due) {
				due = w.due
			}
		}
		if due.After(now) {
			if _, paused := r.resumeAt[p]; !paused {
				pause = append(pause, p)
			}
			r.resumeAt[p] = due
		}
	}
	for p, at := range r.resumeAt {
		if _, ok := r.pending[p]; !ok || !at.After(now) {
			resume = append(resume, p)
			delete(r.resumeAt, p)
		}
	}
	if len(pause) > 0 {
		cl.PauseFetchPartitions(map[string][]int32{topic: pause})
	}
	if len(resume) > 0 {
		cl.ResumeFetchPartitions(map[string][]int32{topic: resume})
	}
}

// resumeDue resumes the partitions whose first record is due by now, and
// returns when the next paused one is (zero: none).
func (r *retryPause) resumeDue(cl *kgo.Client, topic string, now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var resume []int32
	var next time.Time
	for p, at := range r.resumeAt {
		switch {
		case !at.After(now):
			resume = append(resume, p)
			delete(r.resumeAt, p)
		case next.IsZero() || at.Before(next):
			next = at
		}
	}
	if len(resume) > 0 {
		cl.ResumeFetchPartitions(map[string][]int32{topic: resume})
	}
	return next
}

// forget drops what is known of partitions ids (revoked, lost or assigned
// anew) and resumes them, so a partition assigned again is read from its
// committed offset. ids nil: every partition (a new client).
func (r *retryPause) forget(cl *kgo.Client, topic string, ids []int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ids == nil {
		clear(r.pending)
		clear(r.read)
		clear(r.resumeAt)
		clear(r.caught)
		r.written = nil
		return
	}
	for _, p := range ids {
		delete(r.pending, p)
		delete(r.read, p)
		delete(r.resumeAt, p)
		delete(r.caught, p)
	}
	r.written = slices.DeleteFunc(r.written, func(w retryWrite) bool { return slices.Contains(ids, w.rec.Partition) })
	if cl != nil {
		cl.ResumeFetchPartitions(map[string][]int32{topic: ids})
	}
}

// pollContext bounds a poll by when the next paused retry partition is
// due, so an idle raw topic does not keep a due retry waiting.
func (e *Enricher) pollContext(ctx context.Context, cl *kgo.Client) (context.Context, context.CancelFunc) {
	if next := e.rpause.resumeDue(cl, e.cfg.RetryTopic, time.Now()); !next.IsZero() {
		return context.WithDeadline(ctx, next)
	}
	return context.WithCancel(ctx)
}
