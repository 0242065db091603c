package enrich

import "time"

// txnSizer sizes each exactly-once transaction by the work it holds rather
// than by a fixed count. A transaction ends only when all of its records are
// done, so each one pays a drain (its slowest calls, while the rest of
// MaxInFlight idles) and a commit; the fewer transactions a backlog takes,
// the less it pays. So a transaction takes as many records as the member
// finished in txnTarget at the rate the last full transaction measured:
// about MaxInFlight per API round, for several rounds. It never takes fewer
// than minTxnRecords, rounded up to whole rounds (512 at 256 in flight), nor
// more than MaxBatch; a transaction of records that ran slowly (a slow API)
// makes the next one smaller, down to that floor. Live traffic polls what has arrived, far
// fewer than the size: only a backlog fills a transaction.
//
// A size is a whole number of rounds (MaxInFlight records). The calls of a
// transaction run MaxInFlight at a time, each starting as another ends, so a
// transaction of 8.5 rounds takes as long as one of 9: its last half round
// runs with half of MaxInFlight idle (measured with a 100 ms API: 2,172
// records took 953 ms, where 2,304 would have taken about as long).
//
// A slow API lowers the floor: a transaction ends its calls at BatchFor, so
// the floor's rounds, one after another, must fit in the target at the
// calls' measured time (at 1.5 s a call, the floor's 512 records, two
// rounds of 256, took 3 s and BatchFor cut the second). It is then as many
// whole rounds as fit, at least one.
type txnSizer struct {
	min, max int
	floor    int // min, or less when a slow API fits fewer rounds
	round    int
	target   time.Duration
	size     int
}

// txnTarget is the work a transaction should hold, as a share of BatchFor:
// half, so a lead polled last still has the other half of BatchFor before
// it must leave for the retry topic.
func txnTarget(batchFor time.Duration) time.Duration { return batchFor / 2 }

// minTxnRecords is the fewest records a transaction may be sized to: the
// fixed size transactions had before. Fewer coalesce fewer events of a lead
// into one API call: with a quota-bound API (bench enrich --scenario quota)
// a floor of 256 made 0.63 calls per event where 500 made 0.43, and the
// backlog took 1.5x as long.
const minTxnRecords = 500

// maxGrowth bounds how much a transaction may grow over the last one, so a
// rate measured on a small transaction does not overshoot.
const maxGrowth = 4

func newTxnSizer(maxInFlight, maxBatch int, batchFor time.Duration) *txnSizer {
	s := &txnSizer{round: max(maxInFlight, 1), max: maxBatch, target: txnTarget(batchFor)}
	if maxBatch >= s.round {
		s.max = maxBatch / s.round * s.round
	}
	s.min = min((minTxnRecords+s.round-1)/s.round*s.round, s.max)
	s.floor, s.size = s.min, s.min
	return s
}

// observeCalls learns the API's mean call time in the last transaction
// (0: no calls) and sets the floor to the whole rounds that fit in the
// target one after another. Below the usual floor it also caps the size
// at once: the next transaction may be a short poll, which observe learns
// nothing from.
func (s *txnSizer) observeCalls(mean time.Duration) {
	if mean <= 0 {
		return
	}
	fit := max(int(s.target/mean), 1) * s.round
	s.floor = min(s.min, fit)
	if fit < s.min { // slower than the floor allows: at once, not after the next full poll
		s.size = min(s.size, fit)
	}
}

// next is how many records the next transaction polls at most.
func (s *txnSizer) next() int { return s.size }

// observe learns from a transaction that polled n records when asked for
// asked, and took took from its first dispatch until all were done. Only a
// full poll (a backlog) says how many the member can take: a short poll
// was all there was.
func (s *txnSizer) observe(n, asked int, took time.Duration) {
	if n < asked || took <= 0 {
		return
	}
	want := float64(n) / took.Seconds() * s.target.Seconds()
	rounds := int(want/float64(s.round) + 0.5)
	s.size = min(max(rounds*s.round, s.floor), s.size*maxGrowth, s.max)
}
