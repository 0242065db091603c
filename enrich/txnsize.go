package enrich

import "time"

// txnSizer sizes each exactly-once transaction by the work it holds rather
// than by a fixed count. A transaction ends only when all of its records are
// done, so each one pays a drain (its slowest calls, while the rest of
// MaxInFlight idles) and a commit; the fewer transactions a backlog takes,
// the less it pays. So a transaction takes as many records as the member
// finished in txnTarget at the rate the last full transaction measured:
// about MaxInFlight per API round, for several rounds. It never takes fewer
// than minTxnRecords or MaxInFlight (one round), nor more than MaxBatch; a
// transaction of records that ran slowly (a slow API) makes the next one
// smaller, down to that floor. Live traffic polls what has arrived, far
// fewer than the size: only a backlog fills a transaction.
type txnSizer struct {
	min, max int
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
	lo := min(max(maxInFlight, minTxnRecords), maxBatch)
	return &txnSizer{min: lo, max: maxBatch, target: txnTarget(batchFor), size: lo}
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
	want := int(float64(n) / took.Seconds() * s.target.Seconds())
	s.size = min(max(want, s.min), s.size*maxGrowth, s.max)
}
