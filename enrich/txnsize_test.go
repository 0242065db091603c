package enrich

import (
	"testing"
	"time"
)

func TestTxnSizer(t *testing.T) {
	s := newTxnSizer(256, 10_000, 2*time.Second) // target 1 s
	if s.next() != minTxnRecords {
		t.Fatalf("first size %d, want the floor %d", s.next(), minTxnRecords)
	}
	// A backlog at 256 calls per 100 ms round: 2,560 records/s. The size
	// grows at most 4x a transaction, then holds about a second of work.
	s.observe(500, 500, 50*time.Millisecond)
	if s.next() != 2000 {
		t.Fatalf("after a fast first transaction: %d, want 2000 (growth bound)", s.next())
	}
	s.observe(2000, 2000, 781250*time.Microsecond)
	if s.next() != 2560 {
		t.Fatalf("at 2,560/s: %d, want 2560", s.next())
	}
	// Live traffic: a short poll says nothing about capacity.
	s.observe(40, 2560, 60*time.Millisecond)
	if s.next() != 2560 {
		t.Fatalf("a short poll changed the size to %d", s.next())
	}
	// A slower API: the next transaction holds less, never under the floor.
	s.observe(2560, 2560, 1600*time.Millisecond)
	if s.next() != 1600 {
		t.Fatalf("at 1,600/s: %d, want 1600", s.next())
	}
	s.observe(1600, 1600, 20*time.Second)
	if s.next() != minTxnRecords {
		t.Fatalf("quota-bound: %d, want the floor %d", s.next(), minTxnRecords)
	}
	// A member with more calls in flight than the floor starts at one round.
	if w := newTxnSizer(1024, 10_000, 2*time.Second); w.next() != 1024 {
		t.Fatalf("max_in_flight 1024: first size %d, want one round", w.next())
	}
	// MaxBatch caps it, the floor included.
	c := newTxnSizer(256, 300, 2*time.Second)
	if c.next() != 300 {
		t.Fatalf("capped first size %d, want 300", c.next())
	}
	c.observe(300, 300, 10*time.Millisecond)
	if c.next() != 300 {
		t.Fatalf("capped size %d, want 300", c.next())
	}
}
