package enrich

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// dispatchFetches dispatches the records of fetches into the open
// transaction and returns parts with the partitions they came from added.
func (e *Enricher) dispatchFetches(fetches kgo.Fetches, parts []*partition) []*partition {
	defer e.notePeak()
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		part := e.partitionOf(fp.Topic, fp.Partition)
		if part == nil || len(fp.Records) == 0 {
			return
		}
		if !slices.Contains(parts, part) {
			parts = append(parts, part)
		}
		for _, r := range fp.Records {
			e.dispatch(part, r)
		}
		if fp.Topic == e.cfg.RetryTopic {
			e.rpause.polled(fp.Partition, fp.Records[len(fp.Records)-1].Offset)
		}
	})
	return parts
}

func (e *Enricher) logFetchErrors(fetches kgo.Fetches) {
	fetches.EachError(func(t string, p int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			e.log.Warn("fetch", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
		}
	})
}

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
