package enrich

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// txnFill lets records that arrive early in a transaction join it.
//
// kgo keeps one fetch per broker: the next is sent only once the last is
// polled. A fetch sent after a transaction's poll returns with the first
// record that arrives, and waits there; what arrives after it is fetched
// only after the next transaction's poll, so it waits for two transactions.
// Polling what is buffered while the transaction is young keeps the
// fetches going: those records join this transaction, and what arrives
// later is buffered for the next one. A record that joins extends the
// transaction by at most its own work, so only the first quarter of a
// transaction (as long as the last one took) is open to them, and never
// more records than the transaction's size.
type txnFill struct {
	sess   *kgo.GroupTransactSession
	until  time.Time // joining closes then
	room   int       // records the transaction may still take
	polled int       // records polled into the transaction, the first poll's included
}

// fillShare is the share of a transaction open to records that arrive
// after it began.
const fillShare = 4

// newTxnFill opens a transaction that began with first records to more,
// up to size records, for a quarter of lastTook (at most of batchFor: a
// record that joins keeps most of BatchFor for its work).
func newTxnFill(sess *kgo.GroupTransactSession, began time.Time, lastTook, batchFor time.Duration, first, size int) *txnFill {
	return &txnFill{sess: sess, until: began.Add(min(lastTook, batchFor) / fillShare), room: size - first, polled: first}
}

// top polls what is buffered, if the transaction is still open to it, and
// dispatches it; parts gains the partitions the records came from. A nil
// f adds nothing.
func (f *txnFill) top(ctx context.Context, e *Enricher, parts []*partition) []*partition {
	if f == nil || f.room <= 0 || ctx.Err() != nil || time.Now().After(f.until) || f.sess.Client().BufferedFetchRecords() == 0 {
		return parts
	}
	// Never a wait: kgo, "If the context is nil, this function will return
	// immediately with any currently buffered fetches" (a paused retry
	// partition's buffered records are not returned, so a wait could last
	// until shutdown, past the transaction timeout).
	fetches := f.sess.PollRecords(nil, f.room) //nolint:staticcheck // nil is kgo's documented non-blocking poll
	e.logFetchErrors(fetches)
	n := fetches.NumRecords()
	f.room -= n
	f.polled += n
	return e.dispatchFetches(fetches, parts)
}

// closed reports whether the transaction takes no more records: the first
// quarter is over or it is full.
func (f *txnFill) closed() bool {
	return f == nil || f.room <= 0 || time.Now().After(f.until)
}
