package enrich

import (
	"testing"
	"time"
)

func TestTxnSizer(t *testing.T) {
	s := newTxnSizer(256, 10_000, 2*time.Second) // target 1 s
	if s.next() != 512 {
		t.Fatalf("first size %d, want the floor %d rounded up to whole rounds: 512", s.next(), minTxnRecords)
	}
	// A backlog at 256 calls per 100 ms round: 2,560 records/s. The size
	// grows at most 4x a transaction, then holds about a second of work.
	s.observe(512, 512, 50*time.Millisecond)
	if s.next() != 2048 {
		t.Fatalf("after a fast first transaction: %d, want 2048 (growth bound)", s.next())
	}
	s.observe(2048, 2048, 800*time.Millisecond)
	if s.next() != 2560 {
		t.Fatalf("at 2,560/s: %d, want 2560", s.next())
	}
	// Whole rounds: 2,172 records/s is 8.48 rounds of 256, so 8 rounds;
	// 2,200 is 8.59, so 9.
	s.observe(2172, 2560, time.Second)
	s.observe(2560, 2560, 2560*time.Second/2172)
	if s.next() != 2048 {
		t.Fatalf("at 2,172/s: %d, want 2048 (8 whole rounds)", s.next())
	}
	s.observe(2048, 2048, 2048*time.Second/2200)
	if s.next() != 2304 {
		t.Fatalf("at 2,200/s: %d, want 2304 (9 whole rounds)", s.next())
	}
	s.observe(2560, 2560, time.Second)
	if s.next() != 2560 {
		t.Fatalf("back at 2,560/s: %d, want 2560", s.next())
	}
	// Live traffic: a short poll says nothing about capacity.
	s.observe(40, 2560, 60*time.Millisecond)
	if s.next() != 2560 {
		t.Fatalf("a short poll changed the size to %d", s.next())
	}
	// A slower API: the next transaction holds less, never under the floor.
	s.observe(2560, 2560, 1600*time.Millisecond)
	if s.next() != 1536 {
		t.Fatalf("at 1,600/s: %d, want 1536 (6 whole rounds)", s.next())
	}
	s.observe(1536, 1536, 20*time.Second)
	if s.next() != 512 {
		t.Fatalf("quota-bound: %d, want the floor 512", s.next())
	}
	// A member with more calls in flight than the floor starts at one round.
	if w := newTxnSizer(1024, 10_000, 2*time.Second); w.next() != 1024 {
		t.Fatalf("max_in_flight 1024: first size %d, want one round", w.next())
	}
	// MaxBatch caps it in whole rounds, and below one round at MaxBatch.
	m := newTxnSizer(256, 5000, 2*time.Second)
	m.observe(512, 512, 10*time.Millisecond)
	m.observe(2048, 2048, 10*time.Millisecond)
	if m.next() != 4864 {
		t.Fatalf("max_batch 5000: %d, want 4864 (19 whole rounds)", m.next())
	}
	// MaxBatch caps it, the floor included, in whole rounds: 300 records
	// take two rounds where 256 take one.
	c := newTxnSizer(256, 300, 2*time.Second)
	if c.next() != 256 {
		t.Fatalf("capped first size %d, want 256", c.next())
	}
	c.observe(256, 256, 10*time.Millisecond)
	if c.next() != 256 {
		t.Fatalf("capped size %d, want 256", c.next())
	}
	// Under one round, MaxBatch itself.
	if u := newTxnSizer(256, 50, 2*time.Second); u.next() != 50 {
		t.Fatalf("max_batch 50: first size %d, want 50", u.next())
	}
}

// A slow API lowers the floor to the rounds that fit in the target (half of
// BatchFor) one after another, at least one; a fast one leaves it.
func TestTxnSizerFloorFollowsCallTime(t *testing.T) {
	s := newTxnSizer(256, 5000, 2*time.Second) // target 1 s
	s.observeCalls(100 * time.Millisecond)
	s.observe(512, 512, 20*time.Second) // quota-bound: slow transactions of fast calls
	if s.next() != 512 {
		t.Fatalf("fast calls: size %d, want the floor 512", s.next())
	}
	// 1.5 s calls: 512 records (two rounds) took 3 s, and BatchFor cut the
	// second. The size drops to one round at once, before any full poll.
	s.observeCalls(1500 * time.Millisecond)
	if s.next() != 256 {
		t.Fatalf("1.5 s calls: size %d before the next full poll, want one round (256)", s.next())
	}
	s.observe(512, 512, 3*time.Second)
	if s.next() != 256 {
		t.Fatalf("1.5 s calls: size %d, want one round (256)", s.next())
	}
	// 400 ms calls: two rounds fit in 1 s.
	s.observeCalls(400 * time.Millisecond)
	s.observe(256, 256, 10*time.Second)
	if s.next() != 512 {
		t.Fatalf("400 ms calls: size %d, want two rounds (512)", s.next())
	}
	// No calls (erasures, LeadPro): nothing learned.
	s.observeCalls(0)
	s.observe(512, 512, 10*time.Second)
	if s.next() != 512 {
		t.Fatalf("no calls: size %d, want 512", s.next())
	}
	// The floor never exceeds minTxnRecords' rounds.
	s.observeCalls(time.Millisecond)
	s.observe(512, 512, 10*time.Second)
	if s.next() != 512 {
		t.Fatalf("1 ms calls: size %d, want the floor 512", s.next())
	}
}
