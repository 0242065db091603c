package enrich

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Enricher is one member of the enrichment consumer group. Build it with New,
// add ClientOpts to the kgo client, then call Run once.
type Enricher struct {
	cfg   Config
	fetch LeadFetcher
	log   *zap.Logger
	m     *metrics
	quota *quota
	sem   chan struct{}
	out   writer // where lead and DLQ records go; set by Run

	sess     *kgo.GroupTransactSession // exactly-once; set by NewClient
	txnID    string                    // this member's transactional id
	fences   []time.Time               // when this member was fenced, within fenceWindow (runTxn only)
	txw      *txnWriter
	batchEnd atomic.Int64 // unix nanoseconds: a failing lead leaves the batch then (exactly-once)
	rebal    atomic.Bool  // partitions were revoked or lost since the last transaction ended
	// sleeping counts the items of the open batch waiting out a backoff;
	// when they are all that is left of it, batchOver is closed and they
	// leave for the retry topic at once (waitBatch).
	sleeping  atomic.Int64
	batchOver atomic.Pointer[chan struct{}]
	rpause    *retryPause // retry partitions paused until their first record is due
	calls     callTimes   // API calls' own times since the last transaction (exactly-once)
	// ahead holds the calls made ahead for the records being dispatched
	// (runTxn's goroutine only); view is kgo's committed view against the
	// brokers' (calls ahead).
	ahead     map[*kgo.Record]*callAhead
	aheadKeys map[string]*callAhead // calls ahead not done, by lead key; guarded by mu
	view      offsetView
	aheadUsed atomic.Int64 // answers of calls ahead that leads took
	aheadHeld atomic.Int64 // records polled ahead, not yet dispatched (outstanding)

	client   *kgo.Client          // the current one (a restart replaces it); guarded by mu
	baseOpts []kgo.Opt            // NewClient's options, for a restart's new client
	retired  map[*kgo.Client]bool // clients a restart dropped; guarded by mu
	workCtx  context.Context
	workStop context.CancelFunc
	workers  sync.WaitGroup
	commitMu sync.Mutex   // one commit at a time: the loop's, a revoke's, the final one
	peak     atomic.Int64 // the most records held polled and not committed, seen after a poll

	mu      sync.Mutex
	parts   map[int32]*partition // owned raw partitions
	retries map[int32]*partition // owned retry partitions (exactly-once)
	keys    map[string]*keyQueue
}

// New returns an Enricher fetching Aurora leads through fetch. Zero fields of
// cfg take their defaults; a nil logger logs nothing.
func New(cfg Config, fetch LeadFetcher, logger *zap.Logger) (*Enricher, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if fetch == nil {
		return nil, errors.New("enrich: no LeadFetcher")
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Enricher{
		cfg: cfg, fetch: fetch, log: logger,
		quota: newQuota(cfg.RequestsPerMinute, cfg.Now), sem: make(chan struct{}, cfg.MaxInFlight),
		workCtx: ctx, workStop: cancel, retired: map[*kgo.Client]bool{}, rpause: newRetryPause(),
		parts: make(map[int32]*partition), retries: make(map[int32]*partition), keys: make(map[string]*keyQueue),
		aheadKeys: map[string]*callAhead{},
	}
	e.m = newMetrics(cfg.Metrics, e.unfinished)
	return e, nil
}

// ClientOpts are the kgo options the Enricher's client needs besides seeds,
// security and kgo.ConsumerGroup: manual commits, rebalances only between
// polls, a bounded produce, and the partition callbacks.
func (e *Enricher) ClientOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.ConsumeTopics(e.cfg.RawTopic), kgo.DisableAutoCommit()}
	delivery := e.cfg.DeliveryTimeout
	if !e.cfg.AtLeastOnce {
		opts = e.txnOpts()
		// A produce that cannot finish fails before the transaction's End
		// gives up, so End can abort cleanly (a broker down for long).
		delivery = min(delivery, e.cfg.TransactionTimeout)
	}
	return append(opts,
		kgo.SessionTimeout(e.cfg.SessionTimeout),
		kgo.HeartbeatInterval(e.cfg.HeartbeatInterval),
		kgo.BlockRebalanceOnPoll(),
		kgo.RecordDeliveryTimeout(delivery),
		kgo.OnPartitionsAssigned(e.assigned),
		kgo.OnPartitionsRevoked(e.revoked),
		kgo.OnPartitionsLost(e.lost),
	)
}

// Run consumes until ctx ends, then lets in-flight work finish (up to
// ShutdownGrace), commits what is done and returns. Exactly-once, a client
// that cannot end or begin a transaction is replaced (restart). The caller
// closes Client afterwards, which leaves the group.
func (e *Enricher) Run(ctx context.Context, client *kgo.Client) error {
	e.mu.Lock()
	e.client = client
	e.mu.Unlock()
	lagCtx, stopLag := context.WithCancel(ctx)
	lagDone := make(chan struct{})
	go func() { defer close(lagDone); e.watchLag(lagCtx) }()
	defer func() { stopLag(); <-lagDone }()
	if e.sess != nil {
		e.txw = &txnWriter{e: e}
		e.out = e.txw
		return e.runTxn(ctx)
	}
	if !e.cfg.AtLeastOnce {
		return errors.New("enrich: exactly-once needs the client from Enricher.NewClient")
	}
	e.out = &syncWriter{e: e}
	commitDone := make(chan struct{})
	go func() {
		defer close(commitDone)
		t := time.NewTicker(e.cfg.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				e.commit(ctx, nil)
			}
		}
	}()
	for ctx.Err() == nil {
		room := e.waitForRoom(ctx)
		if room == 0 {
			break
		}
		fetches := client.PollRecords(ctx, min(room, 1000))
		if fetches.IsClientClosed() {
			break
		}
		e.logFetchErrors(fetches)
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			part := e.partition(fp.Partition)
			if part == nil {
				return
			}
			for _, r := range fp.Records {
				e.dispatch(part, r)
			}
		})
		e.notePeak()
		client.AllowRebalance()
	}
	<-commitDone
	e.shutdown()
	return nil
}

// shutdown lets work finish for up to ShutdownGrace, stops the rest and
// commits what is done.
func (e *Enricher) shutdown() {
	done := make(chan struct{})
	go func() { e.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(e.cfg.ShutdownGrace):
		e.log.Warn("shutdown grace over; unfinished events will be re-processed by the group")
	}
	e.workStop()
	e.workers.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.commit(ctx, nil)
}

// waitForRoom blocks while MaxOutstanding records are held polled and not
// committed, and returns how many more may be polled (0: ctx ended). Only a
// poll adds records, so a poll of at most that many keeps the bound.
func (e *Enricher) waitForRoom(ctx context.Context) int {
	for {
		if room := e.cfg.MaxOutstanding - e.outstanding(); room > 0 {
			return room
		}
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// outstanding is the records of owned raw and retry partitions polled and
// not yet committed, those polled ahead included: what MaxOutstanding bounds.
func (e *Enricher) outstanding() int {
	return e.sum((*partition).outstanding) + int(e.aheadHeld.Load())
}

// unfinished is the records of owned partitions polled and not yet done,
// those polled ahead included: leadbridge_enrich_outstanding_records.
func (e *Enricher) unfinished() int {
	return e.sum((*partition).unfinished) + int(e.aheadHeld.Load())
}

// sum adds up f over the owned raw and retry partitions.
func (e *Enricher) sum(f func(*partition) int) int {
	n := 0
	e.mu.Lock()
	for _, m := range []map[int32]*partition{e.parts, e.retries} {
		for _, p := range m {
			n += f(p)
		}
	}
	e.mu.Unlock()
	return n
}

// notePeak records, after a poll's records are dispatched (only a poll adds
// records), the most held polled and not committed.
func (e *Enricher) notePeak() {
	n := int64(e.outstanding())
	for {
		old := e.peak.Load()
		if n <= old || e.peak.CompareAndSwap(old, n) {
			return
		}
	}
}

func (e *Enricher) partition(id int32) *partition {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.parts[id]
}

func (e *Enricher) partitionOf(topic string, id int32) *partition {
	e.mu.Lock()
	defer e.mu.Unlock()
	if topic == e.cfg.RetryTopic {
		return e.retries[id]
	}
	return e.parts[id]
}

// assigned registers new partitions. At-least-once a partition's key state
// starts empty; exactly-once it is restored from the state topic before the
// partition's first batch (restorePending), not here: a callback must be fast.
func (e *Enricher) assigned(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	if e.isRetired(cl) {
		return
	}
	e.view.reset() // kgo's view is now the brokers' offsets
	if !e.cfg.AtLeastOnce {
		e.dropLeftovers(ctx)
	}
	e.mu.Lock()
	for _, id := range m[e.cfg.RawTopic] {
		var store *stateStore
		if e.cfg.AtLeastOnce {
			store = newStateStore(maxRemembered)
		}
		e.parts[id] = newPartition(e.workCtx, e.cfg.RawTopic, id, store)
	}
	for _, id := range m[e.cfg.RetryTopic] {
		if e.cfg.RetryTopic != "" {
			e.retries[id] = newPartition(e.workCtx, e.cfg.RetryTopic, id, nil)
		}
	}
	e.mu.Unlock()
	if ids := m[e.cfg.RetryTopic]; len(ids) > 0 && e.cfg.RetryTopic != "" {
		e.rpause.forget(cl, e.cfg.RetryTopic, ids) // read from the committed offset, whatever was paused before
	}
	if !e.cfg.AtLeastOnce {
		e.fence(ctx, cl, m[e.cfg.RawTopic])
	}
	e.updateShare(ctx, cl, "assigned", len(m[e.cfg.RawTopic]))
}

// dropLeftovers drops the partitions this member still holds when an
// assignment arrives (exactly-once). The range balancer is eager: every
// partition was revoked before it, and the assignment is whole. But kgo's
// transact session passes a revoke or loss on to this member only once
// until a transaction ends, so a second rebalance while the member is idle
// reaches it as an assignment alone: it kept the partitions it lost, and
// their share of the API budget.
func (e *Enricher) dropLeftovers(ctx context.Context) {
	left := map[string][]int32{}
	e.mu.Lock()
	for id := range e.parts {
		left[e.cfg.RawTopic] = append(left[e.cfg.RawTopic], id)
	}
	for id := range e.retries {
		left[e.cfg.RetryTopic] = append(left[e.cfg.RetryTopic], id)
	}
	e.mu.Unlock()
	if len(left) > 0 {
		e.rebal.Store(true)
		e.drop(ctx, left, false)
	}
}

func (e *Enricher) revoked(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	if e.isRetired(cl) {
		return
	}
	e.view.reset() // kgo's view is now the brokers' offsets
	e.rebal.Store(true)
	e.drop(ctx, m, e.cfg.AtLeastOnce) // exactly-once, offsets commit with their transaction
	e.updateShare(ctx, cl, "revoked", len(m[e.cfg.RawTopic]))
}

func (e *Enricher) lost(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	if e.isRetired(cl) {
		return
	}
	e.view.reset() // kgo's view is now the brokers' offsets
	e.rebal.Store(true)
	e.drop(ctx, m, false)
	e.updateShare(ctx, cl, "lost", len(m[e.cfg.RawTopic]))
}

// callbackTimeout bounds the network calls of a rebalance callback, so a
// rebalance never waits on a broker that does not answer.
const callbackTimeout = 5 * time.Second

// drop stops the work of partitions leaving this member: cancel what waits,
// wait for produces in flight (so no stale lead record lands after the new
// owner's; each is bounded by DeliveryTimeout), and, when revoked cleanly,
// commit what is done.
func (e *Enricher) drop(ctx context.Context, m map[string][]int32, commit bool) {
	var gone []*partition
	e.mu.Lock()
	for _, id := range m[e.cfg.RawTopic] {
		if p, ok := e.parts[id]; ok {
			gone = append(gone, p)
		}
	}
	for _, id := range m[e.cfg.RetryTopic] {
		if p, ok := e.retries[id]; ok && e.cfg.RetryTopic != "" {
			p.revoke()
			delete(e.retries, id)
		}
	}
	e.mu.Unlock()
	if ids := m[e.cfg.RetryTopic]; len(ids) > 0 && e.cfg.RetryTopic != "" {
		e.rpause.forget(nil, e.cfg.RetryTopic, ids)
	}
	for _, p := range gone {
		p.revoke()
	}
	if commit {
		cctx, cancel := context.WithTimeout(ctx, callbackTimeout)
		e.commit(cctx, gone)
		cancel()
	}
	e.mu.Lock()
	for _, p := range gone {
		delete(e.parts, p.id)
		e.m.lag.DeleteLabelValues(fmt.Sprint(p.id))
	}
	e.mu.Unlock()
}

// updateShare sets this member's share of the API budget to its share of
// the raw partitions after a rebalance.
func (e *Enricher) updateShare(ctx context.Context, cl *kgo.Client, why string, changed int) {
	e.mu.Lock()
	owned := len(e.parts)
	e.mu.Unlock()
	total := 0
	if owned > 0 {
		lctx, cancel := context.WithTimeout(ctx, callbackTimeout)
		topics, err := kadm.NewClient(cl).ListTopics(lctx, e.cfg.RawTopic)
		cancel()
		if err == nil {
			total = len(topics[e.cfg.RawTopic].Partitions)
		}
		if total < owned {
			e.log.Warn("raw topic partition count unknown; taking the whole API budget until the next rebalance", zap.Error(err))
			total = owned
		}
	}
	e.quota.setShare(owned, total)
	share := 0.0
	if total > 0 {
		share = float64(owned) / float64(total)
	}
	e.m.share.Set(share)
	e.log.Info("partitions "+why, zap.Int("partitions", changed), zap.Int("owned", owned), zap.Int("total", total),
		zap.Float64("quota_share", share))
}

func (e *Enricher) goWork(f func()) {
	e.workers.Add(1)
	go func() {
		defer e.workers.Done()
		f()
	}()
}
