package enrich

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// NewClient builds this member's Kafka client from opts (seeds, security,
// logging, hooks, kgo.ConsumerGroup and any tuning) and ClientOpts.
// Exactly-once, it is the client of a kgo.GroupTransactSession, and NewClient
// checks at once that the brokers accept a transactional producer: a broker
// without transactions (or an ACL that forbids them) is a startup error that
// names enrich.exactly_once, never a silent fallback.
func (e *Enricher) NewClient(ctx context.Context, opts ...kgo.Opt) (*kgo.Client, error) {
	e.baseOpts = slices.Clip(opts) // a restart builds its new client from them
	opts = append(slices.Clone(opts), e.ClientOpts()...)
	if e.cfg.AtLeastOnce {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("kafka client: %w", err)
		}
		return cl, nil
	}
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, _, err := sess.Client().ProducerID(ictx); err != nil {
		sess.Close()
		return nil, producerIDError(err, e.cfg.TransactionTimeout)
	}
	if err := e.checkTopics(ictx, sess.Client()); err != nil {
		sess.Close()
		return nil, err
	}
	e.mu.Lock()
	e.sess = sess
	e.client = sess.Client()
	e.mu.Unlock()
	return sess.Client(), nil
}

// producerIDError says why the brokers gave no transactional producer id:
// a refusal (an error code in the brokers' answer) names the setting to
// change; no answer at all (brokers unreachable, TLS or SASL failing) is not
// blamed on transactions, and turning exactly-once off would not help it.
func producerIDError(err error, txnTimeout time.Duration) error {
	var ke *kerr.Error
	switch {
	case errors.Is(err, kerr.InvalidTransactionTimeout):
		return fmt.Errorf("enrich.transaction_timeout: the brokers refused %s (%w); it must be at most their transaction.max.timeout.ms (15 min by default)",
			txnTimeout, err)
	case errors.As(err, &ke) && !errors.Is(err, kerr.IllegalSaslState) && !errors.Is(err, kerr.SaslAuthenticationFailed) &&
		!errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Errorf("enrich.exactly_once: the brokers refused a transactional producer (%w); "+
			"use brokers with transactions, or set enrich.exactly_once: false for at-least-once delivery", err)
	default:
		return fmt.Errorf("enrich: no producer id from the brokers (%w); check that kafka.brokers are up and reachable and kafka.tls and kafka.sasl match them", err)
	}
}

// checkTopics makes sure the state and retry topics exist with raw's
// partition count: partition p of each belongs with raw partition p.
func (e *Enricher) checkTopics(ctx context.Context, cl *kgo.Client) error {
	td, err := kadm.NewClient(cl).ListTopics(ctx, e.cfg.RawTopic, e.cfg.StateTopic, e.cfg.RetryTopic)
	if err != nil {
		return fmt.Errorf("enrich: describe topics: %w", err)
	}
	raw := td[e.cfg.RawTopic]
	if raw.Err != nil {
		return fmt.Errorf("enrich: raw topic %s: %w (run leadbridge topics create)", e.cfg.RawTopic, raw.Err)
	}
	var errs []error
	for _, name := range []string{e.cfg.StateTopic, e.cfg.RetryTopic} {
		switch t := td[name]; {
		case t.Err != nil:
			errs = append(errs, fmt.Errorf("enrich: topic %s: %w (run leadbridge topics create)", name, t.Err))
		case len(t.Partitions) != len(raw.Partitions):
			errs = append(errs, fmt.Errorf("enrich: topic %s has %d partitions, raw %s has %d: they must match",
				name, len(t.Partitions), e.cfg.RawTopic, len(raw.Partitions)))
		}
	}
	return errors.Join(errs...)
}

// txnOpts are the client options exactly-once adds.
func (e *Enricher) txnOpts() []kgo.Opt {
	if e.txnID == "" {
		e.txnID = e.cfg.TransactionalID
		if e.txnID == "" {
			e.txnID = "leadbridge-enrich-" + uuid.NewString()
		}
	}
	id := e.txnID
	return []kgo.Opt{
		kgo.ConsumeTopics(e.cfg.RawTopic, e.cfg.RetryTopic),
		// Range gives partition p of raw and of the retry topic (same
		// partition counts) to the same member: a lead's retries stay with
		// its state.
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.TransactionalID(id),
		kgo.TransactionTimeout(e.cfg.TransactionTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// A fetch in flight (up to this long) delays the first fetch of
		// partitions taken over from a dead member; 5 s by default.
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.RecordPartitioner(ownPartitioner{manual: map[string]bool{e.cfg.StateTopic: true, e.cfg.RetryTopic: true}}),
	}
}

// ownPartitioner writes state and retry records to the partition they name
// (the raw partition they belong to) and everything else by key, as the
// default partitioner does.
type ownPartitioner struct{ manual map[string]bool }

func (p ownPartitioner) ForTopic(t string) kgo.TopicPartitioner {
	if p.manual[t] {
		return kgo.ManualPartitioner().ForTopic(t)
	}
	return kgo.UniformBytesPartitioner(64<<10, true, true, nil).ForTopic(t)
}

// txnWriter puts records into the open transaction. A failed produce fails
// the transaction: it is aborted and its batch read again; a record the
// brokers refused for good is blamed on the polled records it was written
// for (refusals).
type txnWriter struct {
	e     *Enricher
	mu    sync.Mutex // fail; a promise may run inside Produce, so never held around it
	fail  error
	blame blameLog
	// refused outlives transactions: the polled records refused records
	// were written for.
	refused refusals
	ownMu   sync.Mutex
	owned   map[int32]bool // state partitions whose owner record is in this transaction
}

func (w *txnWriter) txn() bool { return true }

// maxBatchBytes is kgo's ProducerBatchMaxBytes default, the largest record
// batch it writes (Kafka's max.message.bytes default is 1,048,588).
const maxBatchBytes = 1_000_012

// Record batch v2 overhead kgo counts against maxBatchBytes besides a
// record's key, value and header bytes: the batch's own fields (65 bytes
// with the produce request's array length, up to 5 more for a flexible
// version's length), and per record its length, attributes, timestamp
// delta, offset delta, key and value lengths and header count as varints
// (at most 5+1+10+5+5+5+5 = 36 bytes), and two length varints (at most 10
// bytes) per header.
const (
	batchOverhead  = 70
	recordOverhead = 36
	headerOverhead = 10
)

// maxRecordBytes is the most key, value and header bytes a record may hold
// with no header: a record over its bound (fits) would be refused (kgo:
// "If a single record encodes larger than this number ..., it will not be
// written"), and one refused record fails the whole transaction, so a
// record that cannot fit goes to the DLQ instead.
const maxRecordBytes = maxBatchBytes - batchOverhead - recordOverhead

// fits reports whether r, alone in a record batch, stays within kgo's
// batch limit.
func fits(r *kgo.Record) bool {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + headerOverhead
	}
	return n <= maxRecordBytes
}

var errTooLarge = errors.New("record too large for a record batch (1,000,012 bytes with overhead)")

func (w *txnWriter) write(part *partition, from []*item, recs ...*kgo.Record) (bool, error) {
	if part.ctx.Err() != nil {
		return false, nil
	}
	for _, r := range recs {
		if !fits(r) {
			return false, errTooLarge
		}
	}
	var refs []rawRef
	for _, it := range from {
		refs = append(refs, refOf(it.rec))
	}
	promise := func(r *kgo.Record, err error) { w.note(r, refs, err) }
	// The first record of a transaction on a state partition names its
	// writer, so a member taking the partition over can fence it.
	w.ownMu.Lock()
	if !w.owned[part.id] {
		w.owned[part.id] = true
		w.e.sess.Produce(context.Background(), &kgo.Record{Topic: w.e.cfg.StateTopic, Partition: part.id,
			Key: []byte(ownerKey), Value: []byte(w.e.txnID)}, func(r *kgo.Record, err error) { w.note(r, nil, err) })
	}
	w.ownMu.Unlock()
	for _, r := range recs {
		w.e.sess.Produce(context.Background(), r, promise)
	}
	return true, nil
}

// note is a produce promise's outcome for r, written for the polled
// records from.
func (w *txnWriter) note(r *kgo.Record, from []rawRef, err error) {
	if err == nil {
		return
	}
	w.blame.refused(r, from, err, w.e.cfg.DLQTopic)
	w.mu.Lock()
	w.fail = errors.Join(w.fail, err)
	w.mu.Unlock()
}

func (w *txnWriter) reset() {
	w.mu.Lock()
	w.fail = nil
	w.mu.Unlock()
	w.blame.reset()
	w.ownMu.Lock()
	w.owned = map[int32]bool{}
	w.ownMu.Unlock()
}

func (w *txnWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fail
}

// runTxn is Run exactly-once: poll a batch, restore the state of partitions
// new to this member, process the batch with per-key workers, and commit
// its lead, DLQ, retry and state records with its offsets in one
// transaction.
func (e *Enricher) runTxn(ctx context.Context) error {
	sess := e.sess
	size := newTxnSizer(e.cfg.MaxInFlight, e.cfg.MaxBatch, e.cfg.BatchFor)
	var took time.Duration // the last transaction's work, from its first call to done
	var ahead *aheadBatch  // the next transaction's first records, polled during this one's drain
	defer func() { ahead.drop() }()
	for ctx.Err() == nil {
		// Every earlier batch has committed or been forgotten (settle), so
		// a batch of MaxBatch (at most MaxOutstanding) keeps the bound.
		pctx, pcancel := e.pollContext(ctx, sess.Client())
		asked := size.next()
		e.txw.refused.forgetSuspectsNotIn(func(t string, p int32) bool { return e.partitionOf(t, p) != nil })
		isolate := e.txw.refused.isolate()
		if isolate {
			asked = 1 // a refusal in a transaction of one record is that record's
		}
		var fetches kgo.Fetches
		if ahead != nil {
			// Never dropped but where the session rewinds (an End, a
			// rebalance, a new client): kgo has moved past them. An abort
			// drops them, so an isolating transaction has none.
			fetches = ahead.fetches
			// A poll blocks rebalances until AllowRebalance; these records
			// came from no poll since, so a poll with an ended context
			// blocks them (kgo: "We still need to add a poller to block
			// rebalances if configured"), after any rebalance under way.
			ended, end := context.WithCancel(ctx)
			end()
			sess.PollRecords(ended, 1)
		} else {
			fetches = sess.PollRecords(pctx, asked)
		}
		pcancel()
		if fetches.IsClientClosed() {
			break
		}
		e.logFetchErrors(fetches)
		if fetches.NumRecords() == 0 {
			sess.AllowRebalance()
			continue
		}
		if e.rebal.Swap(false) {
			ahead.drop() // read again from the brokers' offsets, as this fetch is
			ahead = nil
			// kgo's session remembers a revoke until the next End, also
			// one between transactions (every rebalance with the range
			// balancer): the first transaction after it would be aborted
			// whole, a batch lost on each takeover. Ending with no
			// transaction open clears it and rewinds to the committed
			// offsets: this fetch, not yet dispatched, is read again.
			if _, err := e.end(ctx, kgo.TryAbort, nil); err != nil && ctx.Err() == nil {
				sess.AllowRebalance()
				if sess, err = e.restart(ctx, fmt.Errorf("end after a rebalance: %w", err)); err != nil {
					return err
				}
				continue
			}
			sess.AllowRebalance()
			continue
		}
		if err := e.restorePending(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			// A broker gone mid-restore: start again, as after a failed
			// transaction, rather than stop the member for good.
			ahead.drop()
			ahead = nil
			sess.AllowRebalance()
			if sess, err = e.restart(ctx, err); err != nil {
				return err
			}
			continue
		}
		if err := sess.Begin(); err != nil {
			if fenced(err) && e.stopFenced(err, time.Now()) {
				sess.AllowRebalance() // else the caller's Close waits on this poll to leave the group
				return fmt.Errorf("enrich: this member's producer was fenced %d times within %s, or may not use its transactional id; stopping: %w", maxFences, fenceWindow, err)
			}
			// Begin fails only on a client whose last End failed or was
			// cut short: it is not usable any more.
			ahead.drop()
			ahead = nil
			sess.AllowRebalance()
			if sess, err = e.restart(ctx, fmt.Errorf("begin transaction: %w", err)); err != nil {
				return err
			}
			continue
		}
		w := e.txw
		w.reset()
		began := time.Now()
		e.batchEnd.Store(began.Add(e.cfg.BatchFor).UnixNano())
		over := make(chan struct{})
		e.batchOver.Store(&over)
		cur := ahead
		ahead = nil
		if cur != nil {
			e.ahead = cur.calls
			cur.dispatched = true
			e.aheadHeld.Store(0) // held by their partitions from here
		}
		parts := e.dispatchFetches(fetches, nil)
		e.ahead = nil
		fill := newTxnFill(sess, began, took, e.cfg.BatchFor, fetches.NumRecords(), asked)
		tail := func(parts []*partition, unfinished int) {
			// Once slots idle, the next transaction's calls may use them.
			if ahead != nil || isolate || ctx.Err() != nil || unfinished >= e.cfg.MaxInFlight || !fill.closed() {
				return
			}
			held := 0
			for _, p := range parts {
				held += p.outstanding()
			}
			ahead = e.pollAhead(sess, min(size.next(), e.cfg.MaxOutstanding-held))
		}
		var complete bool
		parts, complete = e.waitBatch(ctx, parts, over, fill, tail)
		// Its work began with its first calls: ahead, during the last
		// transaction's drain, if it had calls ahead. From its Begin, a
		// transaction whose calls were done ahead would look many times
		// faster than the member is, and the next would be sized to it.
		took = time.Since(began)
		if cur != nil {
			took = time.Since(cur.at)
		}
		calls := e.calls.take()
		if !isolate { // a transaction of one record says nothing of the member's rate
			size.observeCalls(calls)
			size.observe(fill.polled, asked, took)
		}
		how := kgo.TryCommit
		if !complete || w.failed() != nil || !e.flush(ctx) || w.failed() != nil {
			how = kgo.TryAbort
		}
		committed, err := e.endAhead(ctx, how, ahead)
		cur.drop()
		if !committed {
			ahead.drop() // the session rewound to before it
			ahead = nil
		}
		e.rpause.ended(committed)
		if committed && w.failed() != nil { // flush waited for every ack: cannot happen
			e.log.Error("a transaction committed although one of its records failed", zap.Error(w.failed()))
		}
		for _, p := range parts {
			p.settle(committed)
		}
		var blamed map[rawRef]blame
		if !committed {
			blamed = w.blame.take()
			e.m.refused.Add(float64(len(blamed)))
		}
		w.refused.ended(committed, blamed, isolate)
		if committed {
			e.m.streak.Set(0)
		} else {
			e.m.streak.Inc()
		}
		switch {
		case err != nil && fenced(err) && !timedOut(err, time.Since(began), e.cfg.TransactionTimeout) && e.stopFenced(err, time.Now()):
			sess.AllowRebalance()
			return fmt.Errorf("enrich: this member's producer was fenced %d times within %s, or may not use its transactional id; stopping: %w", maxFences, fenceWindow, err)
		case err != nil && ctx.Err() != nil:
			// Shutting down: what End left open is aborted when the
			// next owner of these partitions fences this transactional id.
			e.log.Warn("transaction failed while stopping; its records are read again by the group", zap.Error(err))
			e.m.aborts.Inc()
		case err != nil:
			// kgo: "No returned error is retryable" and a cut-short End
			// "will likely leave the client in an invalid state": the
			// client is dropped and the member starts again.
			e.m.aborts.Inc()
			sess.AllowRebalance()
			if sess, err = e.restart(ctx, fmt.Errorf("end transaction: %w", err)); err != nil {
				return err
			}
			continue
		case !committed:
			e.log.Warn("transaction aborted; its records are read again", zap.Error(w.failed()), zap.Bool("complete", complete),
				zap.Int("refused_for", len(blamed)))
			e.m.aborts.Inc()
		}
		e.rpause.plan(sess.Client(), e.cfg.RetryTopic, time.Now())
		sess.AllowRebalance()
		if !complete {
			break // shutting down
		}
	}
	e.workStop()
	e.workers.Wait()
	return nil
}

// end ends the open transaction. It outlives ctx (a batch that is done
// still commits while the member stops) but not the transaction timeout: an
// End can wait on a group heartbeat that never comes while the group
// rejoins, or on a broker that is gone. That bound only leads to a restart
// (restart): an End that fails or is cut short leaves the client unusable.
func (e *Enricher) end(ctx context.Context, how kgo.TransactionEndTry, commitFn func(*kmsg.TxnOffsetCommitRequest) error) (bool, error) {
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.TransactionTimeout+5*time.Second)
	defer cancel()
	if commitFn != nil {
		ectx = kgo.PreTxnCommitFnContext(ectx, commitFn)
	}
	return e.sess.End(ectx, how)
}

// endAhead ends the open transaction (end) while next holds records polled
// ahead for the next one, keeping kgo's committed view and the brokers'
// apart (offsetView): the commit stops at the records polled ahead; an
// abort rewinds to the brokers' offsets.
func (e *Enricher) endAhead(ctx context.Context, how kgo.TransactionEndTry, next *aheadBatch) (bool, error) {
	if next == nil && !e.view.ahead() {
		return e.end(ctx, how, nil)
	}
	var first map[string]map[int32]kgo.EpochOffset
	if next != nil {
		first = next.first
	}
	cl := e.sess.Client()
	sent := map[string]map[int32]kgo.EpochOffset{}
	gen, fn := e.view.commitFn(first, cl.CommittedOffsets(), sent)
	committed, err := e.end(ctx, how, fn)
	switch {
	case err != nil:
		e.view.reset() // the client is replaced, or the member stops
	case committed:
		e.view.committed(gen, sent, cl.CommittedOffsets())
	default:
		e.view.rewind(cl)
	}
	return committed, err
}

// flush waits, up to the transaction timeout, until every record of the
// open transaction is acknowledged or failed, so that commit or abort is
// decided on the outcome of all of them: End's own flush happens after the
// decision, and a record failing there would commit the offsets without it.
func (e *Enricher) flush(ctx context.Context) bool {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.TransactionTimeout)
	defer cancel()
	return e.sess.Client().Flush(fctx) == nil
}

// waitBatch waits until every record of parts is done (or its partition
// left this member). Once all that is left are leads waiting out a backoff,
// it closes over: they leave for the retry topic now rather than hold the
// batch, and the leads behind them, until their next attempt. When ctx ends
// it waits up to ShutdownGrace more, then gives up (false): the batch is
// aborted and re-read by the group. Until over closes, fill adds the records
// that arrive meanwhile; parts comes back with their partitions.
func (e *Enricher) waitBatch(ctx context.Context, parts []*partition, over chan struct{}, fill *txnFill, tail func([]*partition, int)) ([]*partition, bool) {
	var graceEnd <-chan time.Time
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if over != nil {
			parts = fill.top(ctx, e, parts)
		}
		unfinished := 0
		for _, p := range parts {
			if p.ctx.Err() == nil {
				unfinished += p.unfinished()
			}
		}
		if unfinished == 0 {
			return parts, true
		}
		if tail != nil {
			tail(parts, unfinished)
		}
		if over != nil && e.sleeping.Load() >= int64(unfinished) {
			close(over)
			over = nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			if graceEnd == nil {
				graceEnd = time.After(e.cfg.ShutdownGrace)
			}
		case <-graceEnd:
			e.log.Warn("shutdown grace over; the open batch is aborted and re-read by the group")
			return parts, false
		}
		if ctx.Err() != nil && graceEnd == nil {
			graceEnd = time.After(e.cfg.ShutdownGrace)
		}
	}
}

// fence ends what a previous owner of the raw partitions ids left open
// (fenceZombie), before the group fetches their committed offsets: those
// wait for an open transaction that carries offsets. It runs in the
// assignment callback, bounded by callbackTimeout.
func (e *Enricher) fence(ctx context.Context, cl *kgo.Client, ids []int32) {
	ctx, cancel := context.WithTimeout(ctx, callbackTimeout)
	defer cancel()
	conn := connOpts(cl)
	for _, id := range ids {
		err := fenceZombie(ctx, conn, e.cfg.StateTopic, id, e.txnID, func(owner string) {
			e.log.Info("fenced the previous owner's open transaction", zap.Int32("partition", id), zap.String("transactional_id", owner))
		})
		if err != nil {
			e.log.Warn("could not fence the previous owner; its open transaction times out on its own",
				zap.Int32("partition", id), zap.Error(err))
		}
	}
}

// restorePending restores the state of every owned partition that has none.
func (e *Enricher) restorePending(ctx context.Context) error {
	e.mu.Lock()
	var todo []int32
	for _, m := range []map[int32]*partition{e.parts, e.retries} {
		for id, p := range m {
			if p.state == nil && !slices.Contains(todo, id) {
				todo = append(todo, id)
			}
		}
	}
	e.mu.Unlock()
	conn := connOpts(e.sess.Client())
	for _, id := range todo {
		start := time.Now()
		store, err := restoreState(ctx, conn, e.cfg.StateTopic, id)
		if err != nil {
			return fmt.Errorf("restore state partition %d: %w", id, err)
		}
		e.mu.Lock()
		for _, p := range []*partition{e.parts[id], e.retries[id]} {
			if p != nil {
				p.state = store
			}
		}
		e.mu.Unlock()
		e.m.restore.Observe(time.Since(start).Seconds())
		e.log.Info("state restored", zap.Int32("partition", id), zap.Int("keys", store.len()), zap.Duration("duration", time.Since(start)))
	}
	return nil
}
