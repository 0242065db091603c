package enrich

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type offs = map[string]map[int32]kgo.EpochOffset

func txnCommit(parts map[string]map[int32]int64) *kmsg.TxnOffsetCommitRequest {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.MemberID = "m"
	for t, ps := range parts {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = t
		for p, o := range ps {
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, o, 1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func committedIn(req *kmsg.TxnOffsetCommitRequest) map[string]map[int32]int64 {
	out := map[string]map[int32]int64{}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			if out[rt.Topic] == nil {
				out[rt.Topic] = map[int32]int64{}
			}
			out[rt.Topic][rp.Partition] = rp.Offset
		}
	}
	return out
}

func eo(o int64) kgo.EpochOffset { return kgo.EpochOffset{Epoch: 1, Offset: o} }

// The offsets of a transaction stop at the records polled ahead for the
// next one; the partitions where kgo then holds a committed view ahead of
// the brokers are remembered, committed by the next transaction even when
// kgo would leave them out, and forgotten once kgo's view is the brokers'
// again, or after a rebalance.
func TestOffsetViewAcrossCallsAhead(t *testing.T) {
	var v offsetView
	// Transaction 1 polled raw 0 up to 100 and raw 1 up to 50; 80–99 of
	// raw 0 were polled ahead for transaction 2.
	sent := offs{}
	gen, fn := v.commitFn(offs{"raw": {0: eo(80)}}, offs{}, sent)
	req := txnCommit(map[string]map[int32]int64{"raw": {0: 100, 1: 50}})
	if err := fn(req); err != nil {
		t.Fatal(err)
	}
	if got := committedIn(req); got["raw"][0] != 80 || got["raw"][1] != 50 {
		t.Fatalf("commit carries %v, want raw 0 at 80 (the first record polled ahead) and raw 1 at 50", got)
	}
	v.committed(gen, sent, offs{"raw": {0: eo(100), 1: eo(50)}}) // kgo takes all it polled for committed
	if !v.ahead() || v.broker["raw"][0] != eo(80) || len(v.broker["raw"]) != 1 {
		t.Fatalf("view %v, want raw 0 only, the brokers at 80", v.broker)
	}

	// Transaction 2 took 80–99 and polled nothing more from raw 0: kgo,
	// whose view is 100, leaves raw 0 out, and it must still commit 100.
	sent = offs{}
	gen, fn = v.commitFn(nil, offs{"raw": {0: eo(100), 1: eo(50)}}, sent)
	req = txnCommit(map[string]map[int32]int64{"raw": {1: 60}})
	if err := fn(req); err != nil {
		t.Fatal(err)
	}
	if got := committedIn(req); got["raw"][0] != 100 || got["raw"][1] != 60 {
		t.Fatalf("commit carries %v, want raw 0 at 100 (added) and raw 1 at 60", got)
	}
	v.committed(gen, sent, offs{"raw": {0: eo(100), 1: eo(60)}})
	if v.ahead() {
		t.Fatalf("view %v after kgo and the brokers agree again, want none", v.broker)
	}

	// A rebalance during a transaction voids what its End would record.
	sent = offs{}
	gen, fn = v.commitFn(offs{"retry": {3: eo(7)}}, offs{}, sent)
	req = txnCommit(map[string]map[int32]int64{"retry": {3: 9}})
	if err := fn(req); err != nil {
		t.Fatal(err)
	}
	v.reset()
	v.committed(gen, sent, offs{"retry": {3: eo(9)}})
	if v.ahead() {
		t.Fatalf("view %v recorded across a rebalance, want none", v.broker)
	}
}

// What a call ahead got is its lead's first attempt when it reached the
// API, a failure included (a 429 must throttle the token and back off, not
// be called again at once); when it did not, the lead calls itself.
func TestAheadAnswerIsTheFirstAttempt(t *testing.T) {
	throttled := &FetchError{Kind: ErrThrottled, Err: errors.New("429")}
	for _, tc := range []struct {
		name   string
		c      callAhead
		ok     bool
		failed error
	}{
		{"answered", callAhead{body: []byte(`{}`), ran: time.Millisecond}, true, nil},
		{"throttled", callAhead{ran: time.Millisecond, err: throttled}, true, ErrThrottled},
		{"no quota", callAhead{err: errNoQuota}, false, nil},
		{"ended by the member", callAhead{ran: time.Millisecond, err: fmt.Errorf("get: %w", context.Canceled)}, false, nil},
		{"never got a slot", callAhead{err: context.Canceled}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e Enricher
			c := tc.c
			c.done = make(chan struct{})
			close(c.done)
			it := &item{ahead: &c}
			_, _, ok, err := e.aheadAnswer(t.Context(), it)
			if ok != tc.ok || (tc.failed == nil) != (err == nil) || (tc.failed != nil && !errors.Is(err, tc.failed)) {
				t.Fatalf("ok %v, err %v; want ok %v, err %v", ok, err, tc.ok, tc.failed)
			}
			if it.ahead != nil {
				t.Fatal("the answer can be taken twice; a retry must call anew")
			}
		})
	}
}

// A 429 answered to a call ahead throttles its token at once, whether or
// not a lead ever takes the answer (an abort or a rebalance drops the batch
// it was made for; another event of the lead may serve it): the API's
// Retry-After holds for every call made after it.
func TestCallAheadThrottledAtOnce(t *testing.T) {
	fetch := fetcherFunc(func(context.Context, string, string, string) ([]byte, error) {
		return nil, &FetchError{Kind: ErrThrottled, Status: 429, RetryAfter: 10 * time.Second, Err: errors.New("status 429")}
	})
	u := newUnit(t, fetch, func(c *Config) { c.BackoffMax = 30 * time.Second })
	c := &callAhead{done: make(chan struct{})}
	u.e.askAhead(t.Context(), c, "t1", "tok-1", "lead-1")
	if !errors.Is(c.err, ErrThrottled) || c.ran == 0 {
		t.Fatalf("call ahead: ran %v, err %v; want a 429 answered", c.ran, c.err)
	}
	// The answer is never taken. The token must still wait out Retry-After.
	u.e.quota.mu.Lock()
	paused := u.e.quota.budget("tok-1").pausedUntil
	u.e.quota.mu.Unlock()
	if left := paused.Sub(u.e.cfg.Now()); left < 9*time.Second {
		t.Fatalf("the token is paused for %v after the 429 a call ahead got, want its Retry-After of 10s", left)
	}
}
