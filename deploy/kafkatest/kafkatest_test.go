package kafkatest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
)

// TestProduceConsume proves Find + Topic + Client: one record goes in and comes back
// out, against whatever broker Find returns.
func TestProduceConsume(t *testing.T) {
	b := kafkatest.Find(t)
	t.Logf("broker: kind=%s real=%v seeds=%v", b.Kind, b.Real, b.Seeds)
	topic := kafkatest.Topic(t, b, t.Name(), 2, nil)
	if strings.ContainsAny(topic, "/ ") || !strings.HasPrefix(topic, "TestProduceConsume-") {
		t.Fatalf("topic name %q", topic)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prod := kafkatest.Client(t, b, kgo.DefaultProduceTopic(topic))
	if err := prod.ProduceSync(ctx, kgo.StringRecord("hello")).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	cons := kafkatest.Client(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	rec := pollOne(ctx, t, cons)
	if string(rec.Value) != "hello" || rec.Topic != topic {
		t.Fatalf("got %q on %s, want \"hello\" on %s", rec.Value, rec.Topic, topic)
	}
}

// TestTransaction proves the broker accepts transactional, idempotent producers
// (a single-node broker needs transaction.state.log.replication.factor=1 for this)
// and that read_committed consumers see the committed record.
func TestTransaction(t *testing.T) {
	b := kafkatest.Find(t)
	topic := kafkatest.Topic(t, b, "txn", 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	prod := kafkatest.Client(t, b, kgo.DefaultProduceTopic(topic), kgo.TransactionalID(topic+"-tx"))
	for i, commit := range []kgo.TransactionEndTry{kgo.TryAbort, kgo.TryCommit} {
		if err := prod.BeginTransaction(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		if err := prod.ProduceSync(ctx, kgo.StringRecord(fmt.Sprint("txn-", i))).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		if err := prod.EndTransaction(ctx, commit); err != nil {
			t.Fatalf("end transaction: %v", err)
		}
	}
	cons := kafkatest.Client(t, b, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if rec := pollOne(ctx, t, cons); string(rec.Value) != "txn-1" {
		t.Fatalf("read_committed got %q, want the committed txn-1 (txn-0 was aborted)", rec.Value)
	}
}

// TestConsumerGroup proves a consumer group forms quickly (the brokers run with
// group.initial.rebalance.delay.ms=0) and commits its offset.
func TestConsumerGroup(t *testing.T) {
	b := kafkatest.Find(t)
	topic := kafkatest.Topic(t, b, "group", 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prod := kafkatest.Client(t, b, kgo.DefaultProduceTopic(topic))
	if err := prod.ProduceSync(ctx, kgo.StringRecord("g")).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	start := time.Now()
	cons := kafkatest.Client(t, b, kgo.ConsumeTopics(topic), kgo.ConsumerGroup(topic+"-g"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	rec := pollOne(ctx, t, cons)
	if err := cons.CommitRecords(ctx, rec); err != nil {
		t.Fatalf("commit: %v", err)
	}
	took := time.Since(start)
	t.Logf("group joined, consumed and committed in %v", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("joining a one-member group took %v; is group.initial.rebalance.delay.ms=0?", took)
	}
}

// TestCompaction proves the log cleaner really runs on the real broker: with a small
// segment.ms, older values of a key disappear.
func TestCompaction(t *testing.T) {
	b := kafkatest.RequireReal(t)
	str := func(s string) *string { return &s }
	topic := kafkatest.Topic(t, b, "compact", 1, map[string]*string{
		"cleanup.policy":            str("compact"),
		"segment.ms":                str("100"),
		"min.cleanable.dirty.ratio": str("0.01"),
		"delete.retention.ms":       str("100"),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	prod := kafkatest.Client(t, b, kgo.DefaultProduceTopic(topic))
	produce := func(n int) {
		for i := range n {
			r := &kgo.Record{Key: []byte("k"), Value: []byte(fmt.Sprint("v", i))}
			if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
		}
	}
	produce(20)
	for {
		// each record produced after segment.ms rolls the segment, making the older ones cleanable
		time.Sleep(250 * time.Millisecond)
		produce(1)
		// on a compacted log the first record left is no longer at offset 0
		cons := kafkatest.Client(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		first := pollOne(ctx, t, cons)
		cons.Close()
		if first.Offset > 0 {
			t.Logf("compaction done: first record left is %q at offset %d", first.Value, first.Offset)
			return
		}
		if ctx.Err() != nil {
			t.Fatal("the log cleaner did not compact the topic in time")
		}
	}
}

func pollOne(ctx context.Context, t *testing.T, cl *kgo.Client) *kgo.Record {
	t.Helper()
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("no record before timeout: %v", err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Errorf("fetch %s/%d: %v", topic, p, err) })
		if recs := fs.Records(); len(recs) > 0 {
			return recs[0]
		}
	}
}

// ReadCommitted returns the committed records, every one, and none of an
// aborted transaction, though the topic ends in transaction markers.
func TestReadCommitted(t *testing.T) {
	b := kafkatest.Find(t)
	topic := kafkatest.Topic(t, b, "readcommitted", 3, nil)
	plain := kafkatest.Client(t, b, kgo.DefaultProduceTopic(topic))
	for i := range 4 {
		if err := plain.ProduceSync(t.Context(), &kgo.Record{Key: fmt.Appendf(nil, "plain-%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	txn := kafkatest.Client(t, b, kgo.DefaultProduceTopic(topic), kgo.TransactionalID(fmt.Sprintf("readcommitted-%d", time.Now().UnixNano())))
	for _, end := range []kgo.TransactionEndTry{kgo.TryAbort, kgo.TryCommit} {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := txn.ProduceSync(t.Context(), &kgo.Record{Key: fmt.Appendf(nil, "txn-%v-%d", end, i)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := txn.EndTransaction(t.Context(), end); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]bool{}
	for _, r := range kafkatest.ReadCommitted(t, b, topic) {
		got[string(r.Key)] = true
	}
	want := []string{"plain-0", "plain-1", "plain-2", "plain-3", "txn-true-0", "txn-true-1", "txn-true-2"}
	if len(got) != len(want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	for _, k := range want {
		if !got[k] {
			t.Errorf("%s not read; read %v", k, got)
		}
	}
}
