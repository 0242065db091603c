package enrich

import (
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"
	"weak"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A retry partition is paused until the first record pending on it is due,
// never past it: a record due sooner, written later, moves the resume
// earlier; a poll that reaches a record forgets it; an aborted
// transaction's records never count; a rebalance forgets the partition.
func TestRetryPause(t *testing.T) {
	cl, paused := pauseClient(t)
	now := time.Now()
	r := newRetryPause()
	write := func(p int32, offset int64, due time.Duration, commit bool) {
		rec := &kgo.Record{Topic: "retry", Partition: p}
		r.wrote(rec, now.Add(due))
		rec.Offset = offset // as kgo sets it on the ack, before the transaction ends
		r.ended(commit)
	}

	// Partitions 0 and 1 caught up: a committed transaction read a record
	// this member wrote there.
	write(0, 9, 0, true)
	write(1, 2, 0, true)
	r.polled(0, 9)
	r.polled(1, 2)
	r.ended(true)

	write(0, 10, 5*time.Second, true)
	write(1, 3, 2*time.Second, false) // aborted: never visible
	r.plan(cl, "retry", now)
	if got := paused(); !slices.Equal(got, []int32{0}) || !r.resumeAt[0].Equal(now.Add(5*time.Second)) {
		t.Fatalf("paused %v until %v; want partition 0 until its record is due", got, r.resumeAt[0])
	}
	write(0, 11, time.Second, true) // due sooner
	r.plan(cl, "retry", now)
	if !r.resumeAt[0].Equal(now.Add(time.Second)) {
		t.Fatalf("resume at %v, want the sooner record's due time", r.resumeAt[0].Sub(now))
	}
	if next := r.resumeDue(cl, "retry", now.Add(500*time.Millisecond)); !next.Equal(now.Add(time.Second)) || len(paused()) != 1 {
		t.Fatalf("resumed before the first record was due (next %v, paused %v)", next, paused())
	}
	if next := r.resumeDue(cl, "retry", now.Add(time.Second)); !next.IsZero() || len(paused()) != 0 {
		t.Fatalf("not resumed when the first record was due (next %v, paused %v)", next, paused())
	}
	r.polled(0, 10) // the poll reached offset 10; 11 is still pending
	r.plan(cl, "retry", now.Add(time.Second))
	if len(paused()) != 0 {
		t.Fatalf("paused %v although its pending record (offset 11) is due", paused())
	}
	r.polled(0, 11)
	write(0, 12, 3*time.Second, true)
	r.plan(cl, "retry", now.Add(time.Second))
	if got := paused(); !slices.Equal(got, []int32{0}) {
		t.Fatalf("paused %v, want partition 0 until offset 12 is due", got)
	}
	r.forget(cl, "retry", []int32{0}) // revoked, or assigned anew
	if len(paused()) != 0 || len(r.pending) != 0 || len(r.resumeAt) != 0 {
		t.Fatalf("a forgotten partition is still paused (%v) or known (%d pending)", paused(), len(r.pending))
	}
}

// A transaction that read a due retry record and then aborted reads it
// again (the consumer goes back to the committed offsets): the partition is
// not paused until a later record is due. Once a transaction that read it
// commits, the record is forgotten.
func TestRetryPauseAfterAbort(t *testing.T) {
	cl, paused := pauseClient(t)
	now := time.Now()
	r := newRetryPause()
	for _, w := range []struct {
		offset int64
		due    time.Duration
	}{{10, time.Second}, {11, time.Minute}} {
		rec := &kgo.Record{Topic: "retry", Partition: 0}
		r.wrote(rec, now.Add(w.due))
		rec.Offset = w.offset
	}
	r.ended(true)
	at := now.Add(time.Second) // offset 10 is due

	r.polled(0, 10) // read in a transaction that then aborts
	r.ended(false)
	r.plan(cl, "retry", at)
	if got := paused(); len(got) != 0 {
		t.Fatalf("paused %v until %v after an abort, though offset 10, read again, is due", got, r.resumeAt[0].Sub(now))
	}

	r.polled(0, 10) // read again, and committed this time
	r.ended(true)
	r.plan(cl, "retry", at)
	if got := paused(); !slices.Equal(got, []int32{0}) || !r.resumeAt[0].Equal(now.Add(time.Minute)) {
		t.Fatalf("paused %v until %v; want partition 0 until offset 11 is due", got, r.resumeAt[0].Sub(now))
	}
}

// A partition taken over (or read by a new client) may hold records of its
// last owner ahead of the poll, due before this member's own: it is not
// paused for this member's records until a committed transaction has read
// one of them, nor again after it is assigned anew.
func TestRetryPauseAfterTakeover(t *testing.T) {
	cl, paused := pauseClient(t)
	now := time.Now()
	r := newRetryPause()
	write := func(offset int64, due time.Duration) {
		rec := &kgo.Record{Topic: "retry", Partition: 0}
		r.wrote(rec, now.Add(due))
		rec.Offset = offset
		r.ended(true)
	}
	// Taken over: the last owner's records sit at offsets 0-49, unknown
	// here; this member's first, due in a minute, lands at 50.
	write(50, time.Minute)
	r.plan(cl, "retry", now)
	if got := paused(); len(got) != 0 {
		t.Fatalf("paused %v until %v before the poll passed the last owner's records", got, r.resumeAt[0].Sub(now))
	}
	r.polled(0, 30) // a transaction read up to 30 and aborted
	r.ended(false)
	r.plan(cl, "retry", now)
	if got := paused(); len(got) != 0 {
		t.Fatalf("paused %v although the poll, rewound, is before offset 50", got)
	}
	r.polled(0, 50) // read up to this member's record, committed
	write(51, time.Minute)
	r.plan(cl, "retry", now)
	if got := paused(); !slices.Equal(got, []int32{0}) {
		t.Fatalf("paused %v once caught up, want partition 0 until offset 51 is due", got)
	}
	r.forget(cl, "retry", []int32{0}) // assigned anew
	write(60, time.Minute)
	r.plan(cl, "retry", now)
	if got := paused(); len(got) != 0 {
		t.Fatalf("paused %v right after being assigned anew", got)
	}
}

// pauseClient is a client of topic "retry" (no broker needed: pausing is
// local) and what it has paused.
func pauseClient(t *testing.T) (*kgo.Client, func() []int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.ConsumeTopics("retry"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, func() []int32 { return cl.PauseFetchPartitions(nil)["retry"] }
}

// A partition's tracked retry records never pass maxRetryPending: past it
// the partition is forgotten and resumed, as if assigned anew, and is not
// paused again before a poll has passed its unknown records.
func TestRetryPauseBounded(t *testing.T) {
	cl, paused := pauseClient(t)
	now := time.Now()
	r := newRetryPause()
	offset := int64(0)
	// The oldest record is due first; the rest a minute on, one
	// millisecond apart.
	commit := func(n int) {
		for range n {
			rec := &kgo.Record{Topic: "retry", Partition: 0}
			due := now.Add(time.Minute + time.Duration(offset)*time.Millisecond)
			if offset == 1 {
				due = now.Add(time.Second)
			}
			r.wrote(rec, due)
			rec.Offset = offset
			offset++
		}
		r.ended(true)
		if n := len(r.pending[0]); n > maxRetryPending {
			t.Fatalf("%d records tracked on a partition, over the bound %d", n, maxRetryPending)
		}
	}
	commit(1)
	r.polled(0, 0)
	r.ended(true) // caught up
	commit(maxRetryPending)
	r.plan(cl, "retry", now)
	if got := paused(); !slices.Equal(got, []int32{0}) || len(r.pending[0]) != maxRetryPending {
		t.Fatalf("paused %v with %d tracked; want partition 0 paused with %d, the bound", got, len(r.pending[0]), maxRetryPending)
	}
	// Past the bound, the oldest are squeezed into one entry: still caught
	// up and paused, until the earliest of them is due.
	commit(1)
	q := r.pending[0]
	if len(q) != maxRetryPending/2 || !r.caught[0] {
		t.Fatalf("past the bound: %d tracked, caught %v; want %d, caught", len(q), r.caught[0], maxRetryPending/2)
	}
	if first := q[0]; first.due != now.Add(time.Second).UnixNano() || first.offset != q[1].offset-1 {
		t.Fatalf("the squeezed entry: offset %d due %v; want the last merged offset %d and the earliest due (1 s)",
			first.offset, time.Unix(0, first.due).Sub(now), q[1].offset-1)
	}
	for i := 1; i < len(q); i++ {
		if q[i].offset <= q[i-1].offset {
			t.Fatalf("entries out of offset order at %d", i)
		}
	}
	r.plan(cl, "retry", now)
	if got := paused(); !slices.Equal(got, []int32{0}) || !r.resumeAt[0].Equal(now.Add(time.Second)) {
		t.Fatalf("paused %v until %v; want partition 0 until the earliest due, 1 s", got, r.resumeAt[0].Sub(now))
	}
	// The poll passes the squeezed records: the entry goes, the rest stay.
	r.polled(0, q[0].offset)
	r.ended(true)
	if n := len(r.pending[0]); n != maxRetryPending/2-1 {
		t.Fatalf("after polling the squeezed records: %d tracked, want %d", n, maxRetryPending/2-1)
	}
	// Many rewrites past the bound never forget the partition.
	for range 3 {
		commit(maxRetryPending)
		if !r.caught[0] {
			t.Fatal("rewrites past the bound forgot the partition")
		}
	}
	r.plan(cl, "retry", now.Add(2*time.Second))
	if got := paused(); !slices.Equal(got, []int32{0}) {
		t.Fatalf("paused %v after rewrites past the bound, want partition 0", got)
	}
}

// A committed retry record is tracked by offset and due time only: its
// value and headers are not kept on the heap.
func TestRetryPauseKeepsNoRecord(t *testing.T) {
	for f := range reflect.TypeFor[retryEntry]().Fields() {
		if f.Type.Kind() != reflect.Int64 {
			t.Fatalf("retryEntry.%s is a %s: a tracked record must hold no reference", f.Name, f.Type)
		}
	}
	r := newRetryPause()
	wp := func() weak.Pointer[kgo.Record] {
		rec := &kgo.Record{Topic: "retry", Partition: 3, Value: make([]byte, 1<<20),
			Headers: []kgo.RecordHeader{{Key: "leadbridge_retry_attempt", Value: []byte("1")}}}
		r.wrote(rec, time.Now().Add(time.Minute))
		rec.Offset = 7
		return weak.Make(rec)
	}()
	r.ended(true)
	runtime.GC()
	if wp.Value() != nil {
		t.Fatal("the retry record (value, headers) is still on the heap after its transaction committed")
	}
	if q := r.pending[3]; len(q) != 1 || q[0].offset != 7 {
		t.Fatalf("pending %v, want offset 7", q)
	}
}
