package enrich

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/leadbridge/leadbridge/schema"
)

// Calls ahead: the next transaction's Retrieve Lead calls start during the
// drain of this one (exactly-once).
//
// A transaction ends when all of its records are done, so its last calls end
// at scattered times while the rest of MaxInFlight idles: 35–40 ms of every
// 1 s transaction of 2,304 records at 256 in flight and a 100 ms API
// (measured). Once fewer records than MaxInFlight are left, the member polls
// what is buffered as the next transaction's first records and starts calls
// in the idle slots, one round at most. Nothing else of them happens before
// their own transaction: they are dispatched when it begins, and a lead
// whose call ahead reached the API takes what it got as its first attempt
// (an answer, or a failure with its backoff) instead of calling again. A
// call ahead starts after its event was read from the raw topic, as any
// call does, so its answer is as new as the event needs.
//
// kgo's transact session commits the offsets of every record polled; End's
// offsets are rewritten (kgo.PreTxnCommitFnContext) to stop at the first
// record polled ahead. kgo then takes those records' offsets for committed
// too, so for those partitions its committed view is ahead of the brokers'
// (view). After an abort kgo rewinds to its view; the member rewinds on to
// the brokers' offsets (SetOffsets). A rebalance replaces kgo's view with the
// brokers' offsets, and the member forgets its own.
type aheadBatch struct {
	fetches kgo.Fetches
	n       int
	first   map[string]map[int32]kgo.EpochOffset // per partition, the first record polled ahead
	calls   map[*kgo.Record]*callAhead           // by the last event of each lead that got a call
	stop    context.CancelFunc                   // ends the calls still running
	at      time.Time                            // when they were polled
	held    *atomic.Int64                        // the member's count of records polled ahead
	// dispatched: the records went to their transaction, which holds them
	// from then on (held no longer counts them).
	dispatched bool
}

// callAhead is one Retrieve Lead call made ahead; its fields are set when
// done closes.
type callAhead struct {
	done   chan struct{}
	cancel context.CancelFunc // ends the call; it may not start after
	body   []byte
	ran    time.Duration
	err    error
}

// errNoQuota: no call ahead was made, the token's budget had nothing to
// spare soon.
var errNoQuota = errors.New("no quota to spare for a call ahead")

// aheadQuotaWait is the longest a call ahead waits for the token's budget.
// A budget that cannot serve it by then (a quota-bound API) is spent by
// the transaction's own calls instead: the limiter refuses at once a wait
// that would outlast this, so the calls ahead reserve nothing later.
const aheadQuotaWait = 50 * time.Millisecond

// drop forgets a batch polled ahead and ends its calls; a nil a is a no-op.
func (a *aheadBatch) drop() {
	if a != nil {
		a.stop()
		if !a.dispatched {
			a.held.Store(0)
		}
	}
}

// pollAhead polls up to room buffered records (never waiting) for the next
// transaction and starts a call for the last lead event of each Aurora lead
// among them that nothing else holds (no event of the lead is being served,
// no erasure of it is among the records, it is not erased, no call ahead
// for it is still running), for MaxInFlight leads at most, in the order
// polled. nil when nothing was buffered.
func (e *Enricher) pollAhead(sess *kgo.GroupTransactSession, room int) *aheadBatch {
	if room <= 0 || sess.Client().BufferedFetchRecords() == 0 {
		return nil
	}
	fetches := sess.PollRecords(nil, room) //nolint:staticcheck // nil is kgo's documented non-blocking poll
	e.logFetchErrors(fetches)
	if fetches.NumRecords() == 0 {
		return nil
	}
	ctx, stop := context.WithCancel(e.workCtx)
	a := &aheadBatch{fetches: fetches, n: fetches.NumRecords(), first: map[string]map[int32]kgo.EpochOffset{},
		calls: map[*kgo.Record]*callAhead{}, stop: stop, at: time.Now(), held: &e.aheadHeld}
	e.aheadHeld.Store(int64(a.n))
	e.notePeak()
	type lead struct {
		rec          *kgo.Record
		part         *partition
		tenant, id   string
		erasedInPoll bool
	}
	leads := map[string]*lead{}
	var order []string // the leads in the order polled
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		if a.first[fp.Topic] == nil {
			a.first[fp.Topic] = map[int32]kgo.EpochOffset{}
		}
		a.first[fp.Topic][fp.Partition] = kgo.EpochOffset{Epoch: fp.Records[0].LeaderEpoch, Offset: fp.Records[0].Offset}
		part := e.partitionOf(fp.Topic, fp.Partition)
		if part == nil || fp.Topic != e.cfg.RawTopic {
			return // retry records wait out their own schedule
		}
		for _, r := range fp.Records {
			ev, err := schema.DecodeRecord(r)
			if err != nil {
				continue
			}
			if ev.Type == schema.EraseEventType || ev.Type == schema.UneraseEventType {
				leads[string(r.Key)] = &lead{erasedInPoll: true}
				continue
			}
			if !strings.HasPrefix(ev.Type, schema.AuroraTypePrefix) ||
				!schema.IsAuroraLeadEvent(strings.TrimPrefix(ev.Type, schema.AuroraTypePrefix)) {
				continue
			}
			d, id, reason, _ := auroraLead(ev)
			if reason != "" {
				continue
			}
			key := schema.AuroraKey(d.TenantID, id)
			l := leads[key]
			if l != nil && l.erasedInPoll {
				continue
			}
			if l == nil {
				order = append(order, key)
			}
			leads[key] = &lead{rec: r, part: part, tenant: d.TenantID, id: id}
		}
	})
	made := 0
	for _, key := range order {
		l := leads[key]
		if made == e.cfg.MaxInFlight {
			// One round is all a drain can use; more would queue for a slot
			// ahead of the open transaction's own calls (its leads back
			// from a backoff).
			break
		}
		token, ok := e.cfg.APITokens[l.tenant]
		if l.erasedInPoll || !ok || l.part.state == nil || e.busy(key) || e.erased(&item{part: l.part, key: key}) {
			continue
		}
		made++
		cctx, cancel := context.WithCancel(l.part.ctx) // revoked: no use for the answer
		stopAfter := context.AfterFunc(ctx, cancel)
		c := &callAhead{done: make(chan struct{}), cancel: cancel}
		a.calls[l.rec] = c
		// The call runs outside the key's worker: an erasure of the key
		// waits for it (stopAhead), so the API never hears of an erased key.
		e.mu.Lock()
		e.aheadKeys[key] = c
		e.mu.Unlock()
		e.goWork(func() {
			defer func() {
				e.mu.Lock()
				if e.aheadKeys[key] == c {
					delete(e.aheadKeys, key)
				}
				e.mu.Unlock()
				close(c.done)
			}()
			defer stopAfter()
			defer cancel()
			e.askAhead(traced(cctx, l.rec), c, l.tenant, token.Reveal(), l.id)
		})
	}
	return a
}

// askAhead makes the call ahead c, if the token's budget can spare it soon.
// A 429 throttles the token at once: the answer may never be taken (its
// batch dropped by an abort or a rebalance, or its lead served by another
// of its events), and calls go on meanwhile (the open transaction's, the
// rest of the round). A lead that takes it throttles again in retryWait,
// which only moves the pause and the slow minute on by the time between.
func (e *Enricher) askAhead(ctx context.Context, c *callAhead, tenant, token, id string) {
	qctx, qcancel := context.WithTimeout(ctx, aheadQuotaWait)
	err := e.quota.wait(qctx, token)
	qcancel()
	if err != nil {
		c.err = errNoQuota
		return
	}
	c.body, c.ran, c.err = e.call(ctx, tenant, token, id)
	if errors.Is(c.err, ErrThrottled) {
		ra, _ := retryAfter(c.err)
		e.quota.throttled(token, min(ra, e.cfg.BackoffMax))
	}
}

// stopAhead ends the call made ahead for key, if one may still start, and
// waits until it has: an erasure of key is applied only after it.
func (e *Enricher) stopAhead(key string) {
	e.mu.Lock()
	c := e.aheadKeys[key]
	e.mu.Unlock()
	if c != nil {
		c.cancel()
		<-c.done
	}
}

// busy reports whether events of key are being served or wait for it, or
// an earlier call ahead for it is not done.
func (e *Enricher) busy(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.keys[key]
	return ok || e.aheadKeys[key] != nil
}

// aheadAnswer waits, up to the end of the batch, for the call made ahead for
// it, and returns what the API answered it, an error included (a 429 or a
// 5xx counts as the lead's first attempt, with its backoff). ok=false: no
// call ahead reached the API for it (none made, no quota, or ended by this
// member), and the lead calls now.
func (e *Enricher) aheadAnswer(ctx context.Context, it *item) (body []byte, ran time.Duration, ok bool, err error) {
	c := it.ahead
	if c == nil {
		return nil, 0, false, nil
	}
	it.ahead = nil // used once; a retry calls anew
	bctx, cancel := e.batchContext(ctx)
	defer cancel()
	select {
	case <-c.done:
	case <-bctx.Done():
		return nil, 0, false, nil
	}
	if c.ran == 0 || errors.Is(c.err, errNoQuota) || errors.Is(c.err, context.Canceled) {
		return nil, 0, false, nil
	}
	e.aheadUsed.Add(1)
	return c.body, c.ran, true, c.err
}

// offsetView is what this member knows the brokers hold as committed for
// the partitions where kgo's committed view is ahead of it (calls ahead).
// It is safe for concurrent use: the rebalance callbacks reset it.
type offsetView struct {
	mu      sync.Mutex
	gen     uint64 // bumped by reset: a rebalance replaced kgo's view
	broker  map[string]map[int32]kgo.EpochOffset
	rewound int // aborts after which the member rewound past kgo's view
}

// reset forgets the view: after a rebalance kgo's view is the brokers'.
func (v *offsetView) reset() {
	v.mu.Lock()
	v.gen++
	v.broker = nil
	v.mu.Unlock()
}

// commitFn returns the generation of the view and the function that
// rewrites a transaction's offset commit: a partition polled ahead commits
// up to its first record polled ahead (next), and a partition whose
// committed view kgo holds ahead of the brokers and that kgo would leave out
// commits up to that view, which the records of this transaction reached.
// sent collects what the commit carries.
func (v *offsetView) commitFn(next map[string]map[int32]kgo.EpochOffset, kgoView map[string]map[int32]kgo.EpochOffset,
	sent map[string]map[int32]kgo.EpochOffset) (uint64, func(*kmsg.TxnOffsetCommitRequest) error) {
	v.mu.Lock()
	gen := v.gen
	behind := map[string]map[int32]bool{}
	for t, ps := range v.broker {
		for p := range ps {
			if behind[t] == nil {
				behind[t] = map[int32]bool{}
			}
			behind[t][p] = true
		}
	}
	v.mu.Unlock()
	return gen, func(req *kmsg.TxnOffsetCommitRequest) error {
		set := func(t string, p int32, eo kgo.EpochOffset) {
			if sent[t] == nil {
				sent[t] = map[int32]kgo.EpochOffset{}
			}
			sent[t][p] = eo
		}
		for i := range req.Topics {
			rt := &req.Topics[i]
			for j := range rt.Partitions {
				rp := &rt.Partitions[j]
				if eo, ok := next[rt.Topic][rp.Partition]; ok {
					rp.Offset, rp.LeaderEpoch = eo.Offset, eo.Epoch
				}
				delete(behind[rt.Topic], rp.Partition)
				set(rt.Topic, rp.Partition, kgo.EpochOffset{Epoch: rp.LeaderEpoch, Offset: rp.Offset})
			}
		}
		for t, ps := range behind {
			for p := range ps {
				eo, ok := kgoView[t][p]
				if !ok {
					continue
				}
				if eo2, ok := next[t][p]; ok {
					eo = eo2
				}
				rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, eo.Offset, eo.Epoch, &req.MemberID
				idx := -1
				for i := range req.Topics {
					if req.Topics[i].Topic == t {
						idx = i
					}
				}
				if idx < 0 {
					rt := kmsg.NewTxnOffsetCommitRequestTopic()
					rt.Topic = t // no topic id: kgo then sends a version that names topics
					req.Topics = append(req.Topics, rt)
					idx = len(req.Topics) - 1
				}
				req.Topics[idx].Partitions = append(req.Topics[idx].Partitions, rp)
				set(t, p, eo)
			}
		}
		return nil
	}
}

// committed records a commit that carried sent, with kgo's committed view
// after it (kgoView): where they differ, kgo is ahead of the brokers. A
// rebalance since gen voids it.
func (v *offsetView) committed(gen uint64, sent, kgoView map[string]map[int32]kgo.EpochOffset) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if gen != v.gen {
		return
	}
	for t, ps := range sent {
		for p, eo := range ps {
			if kgoView[t][p] == eo {
				if v.broker[t] != nil {
					delete(v.broker[t], p)
				}
				continue
			}
			if v.broker == nil {
				v.broker = map[string]map[int32]kgo.EpochOffset{}
			}
			if v.broker[t] == nil {
				v.broker[t] = map[int32]kgo.EpochOffset{}
			}
			v.broker[t][p] = eo
		}
	}
}

// rewind moves the client's consumption and committed view, after an
// abort rewound it to kgo's view, on to the brokers' committed offsets, and
// forgets them: the view is right again.
func (v *offsetView) rewind(cl *kgo.Client) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.broker) > 0 {
		cl.SetOffsets(v.broker)
		v.rewound++
	}
	v.broker = nil
}

// ahead reports whether kgo's view is ahead of the brokers anywhere.
func (v *offsetView) ahead() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, ps := range v.broker {
		if len(ps) > 0 {
			return true
		}
	}
	return false
}
