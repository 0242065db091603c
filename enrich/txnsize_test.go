package enrich

import (
	"testing"
	"time"
)

func TestTxnSizer(t *testing.T) {
	s := newTxnSizer(256, 10_000, 2*time.Second) // target 1 s
	if s.next() != 256 {
		t.Fatalf("first size %d, want one round (256)", s.next())
	}
	// A backlog at 256 calls per 100 ms round: 2,560 records/s. The size
	// grows at most 4x a transaction, then holds about a second of work.
	s.observe(256, 256, 100*time.Millisecond)
	if s.next() != 1024 {
		t.Fatalf("after one round: %d, want 1024 (growth bound)", s.next())
	}
	s.observe(1024, 1024, 400*time.Millisecond)
	if s.next() != 2560 {
		t.Fatalf("at 2,560/s: %d, want 2560", s.next())
	}
	// Live traffic: a short poll says nothing about capacity.
	s.observe(40, 2560, 60*time.Millisecond)
	if s.next() != 2560 {
		t.Fatalf("a short poll changed the size to %d", s.next())
	}
	// A slow or rate-limited API: the next transaction holds less, never
	// under one round.
	s.observe(2560, 2560, 1600*time.Millisecond)
	if s.next() != 1600 {
		t.Fatalf("at 1,600/s: %d, want 1600", s.next())
	}
	s.observe(1600, 1600, 20*time.Second)
	if s.next() != 256 {
		t.Fatalf("quota-bound: %d, want the floor 256", s.next())
	}
	// MaxBatch caps it.
	c := newTxnSizer(256, 500, 2*time.Second)
	c.observe(256, 256, 10*time.Millisecond)
	if c.next() != 500 {
		t.Fatalf("capped size %d, want 500", c.next())
	}
}
