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
		if ok, err := e.out.write(it.part, []*item{it}, rec); !ok {
			if refusedForGood(err) { // too large with the retry headers: it cannot wait there
				e.deadLetter([]*item{it}, schema.DLQReasonUnproducible, err, attempt, first)
				continue
			}
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
//
// Its memory is bounded: a committed record is known by its offset and due
// time only (16 bytes), and by at most maxRetryPending a partition (an
// Aurora outage moves the whole raw backlog into the retry topic). Past
// that, the oldest entries are squeezed into one (squeeze): the pause may
// end earlier than their own due times, never later, and the partition
// stays paused between them.
type retryPause struct {
	mu       sync.Mutex
	written  []retryWrite           // records of the open transaction (Offset set once acked)
	pending  map[int32][]retryEntry // committed, not yet polled, by retry partition, in offset order
	read     map[int32][]retryEntry // pending records polled in the open transaction, in offset order
	resumeAt map[int32]time.Time    // paused partitions: when their first record is due
	caught   map[int32]bool         // partitions read past their first record this member wrote: every record ahead is known
}

// maxRetryPending bounds the committed retry records tracked per retry
// partition (1.6 MB of entries).
const maxRetryPending = 100_000

// retryWrite is a retry record of the open transaction: the record itself,
// because kgo sets its offset on the ack; it is dropped when the
// transaction ends (the transaction holds at most max_batch records).
type retryWrite struct {
	rec *kgo.Record
	due time.Time
}

// retryEntry is a committed retry record, as much of it as the pause needs:
// no value or headers stay in memory.
type retryEntry struct {
	offset int64
	due    int64 // unix nanoseconds
}

func newRetryPause() *retryPause {
	return &retryPause{pending: map[int32][]retryEntry{}, read: map[int32][]retryEntry{}, resumeAt: map[int32]time.Time{},
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
// a partition could be paused past a record that is due). A partition
// past maxRetryPending is squeezed to half of it.
func (r *retryPause) ended(committed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if committed {
		for p := range r.read {
			r.caught[p] = true
		}
		for _, w := range r.written {
			p := w.rec.Partition
			r.pending[p] = append(r.pending[p], retryEntry{w.rec.Offset, w.due.UnixNano()})
		}
	} else {
		for p, q := range r.read {
			r.pending[p] = append(q, r.pending[p]...)
		}
	}
	for p, q := range r.pending {
		if len(q) > maxRetryPending {
			r.pending[p] = squeeze(q, maxRetryPending/2)
		}
	}
	r.written = nil
	clear(r.read)
}

// squeeze merges the oldest entries of q into one so that n are left. The
// merged entry stands for all of them: at the offset of the last, so the
// poll forgets it only once it has read them all, and due when the
// earliest is, so a pause ends no later than any of them is due. The
// entries stay in offset order. A new slice lets the old one go.
func squeeze(q []retryEntry, n int) []retryEntry {
	k := len(q) - n + 1 // merged into one
	m := retryEntry{offset: q[k-1].offset, due: q[0].due}
	for _, e := range q[1:k] {
		m.due = min(m.due, e.due)
	}
	return append(append(make([]retryEntry, 0, n), m), q[k:]...)
}

// polled forgets the pending records of partition p up to offset, for
// good once the open transaction commits.
func (r *retryPause) polled(p int32, offset int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.pending[p]
	n := 0
	for n < len(q) && q[n].offset <= offset {
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
		first := q[0].due
		for _, w := range q[1:] {
			first = min(first, w.due)
		}
		if due := time.Unix(0, first); due.After(now) {
			if _, paused := r.resumeAt[p]; !paused {
				pause = append(pause, p)
			}
			r.resumeAt[p] = due
		}
	}
	for p, at := range r.resumeAt {
		if _, ok := r.pending[p]; !ok || !r.caught[p] || !at.After(now) {
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
