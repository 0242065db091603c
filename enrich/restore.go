package enrich

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/leadbridge/leadbridge/schema"
)

// connOpts are the connection options of cl (seeds, dialer, TLS, SASL), for
// a short-lived client that reads state partitions directly.
func connOpts(cl *kgo.Client) []kgo.Opt {
	opts := []kgo.Opt{}
	if v, ok := cl.OptValue(kgo.SeedBrokers).([]string); ok {
		opts = append(opts, kgo.SeedBrokers(v...))
	}
	if v, ok := cl.OptValue(kgo.Dialer).(func(context.Context, string, string) (net.Conn, error)); ok && v != nil {
		opts = append(opts, kgo.Dialer(v))
	}
	if v, ok := cl.OptValue(kgo.DialTLSConfig).(*tls.Config); ok && v != nil {
		opts = append(opts, kgo.DialTLSConfig(v))
	}
	if v, ok := cl.OptValue(kgo.SASL).([]sasl.Mechanism); ok && len(v) > 0 {
		opts = append(opts, kgo.SASL(v...))
	}
	return opts
}

// stableEnd is the last stable offset of a state partition: everything
// committed before it. An open transaction (a killed member's, until it
// times out) is not waited for: its records would be aborted anyway.
func stableEnd(ctx context.Context, cl *kgo.Client, topic string, partition int32) (start, end int64, err error) {
	return offsets(ctx, cl, topic, partition, 1)
}

// offsets lists a partition's start and end, read_committed (isolation 1:
// the end is the last stable offset) or not (0: the high watermark).
func offsets(ctx context.Context, cl *kgo.Client, topic string, partition int32, isolation int8) (start, end int64, err error) {
	at := func(ts int64) (int64, error) {
		req := kmsg.NewPtrListOffsetsRequest()
		req.IsolationLevel = isolation
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = partition, ts, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return 0, err
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return 0, fmt.Errorf("list offsets of %s/%d: no answer for the partition", topic, partition)
		}
		p := resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
			return 0, err
		}
		return p.Offset, nil
	}
	if start, err = at(-2); err != nil {
		return 0, 0, fmt.Errorf("state topic %s partition %d: %w", topic, partition, err)
	}
	if end, err = at(-1); err != nil {
		return 0, 0, fmt.Errorf("state topic %s partition %d: %w", topic, partition, err)
	}
	return start, end, nil
}

// restoreQuiet is how long a restore poll may bring nothing before restore
// asks the partition's leader whether anything is left below the end.
const restoreQuiet = 2 * time.Second

// restoreStalls is how many quiet polls in a row, with records still left
// below the end (or no answer from the leader), a restore waits through
// before it fails: a fetch held up by a leader move, a broker restart or a
// starved machine. A failed restore restarts the member.
const restoreStalls = 5

// restoreState reads state partition partition from its start to its last
// stable offset into a store. It reads committed records only, and keeps
// transaction markers so it knows when it reached the end. Memory is about
// 150 bytes per key, whatever the key's length. It never returns a
// store short of the end: a compacted tail may end before it, and a poll
// that brings nothing is taken for one only when the leader confirms that
// nothing is left (drained).
func restoreState(ctx context.Context, conn []kgo.Opt, topic string, partition int32) (*stateStore, error) {
	store := newStateStore(0)
	adm, err := kgo.NewClient(conn...)
	if err != nil {
		return nil, err
	}
	start, end, err := stableEnd(ctx, adm, topic, partition)
	adm.Close()
	if err != nil || end <= start {
		return store, err
	}
	cl, err := kgo.NewClient(append(conn,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(start)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.FetchMaxWait(100*time.Millisecond), kgo.FetchMaxPartitionBytes(16<<20))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	next, stalls := start, 0 // next: the offset after the last record read
	for {
		pctx, cancel := context.WithTimeout(ctx, restoreQuiet)
		fs := cl.PollFetches(pctx)
		quiet := pctx.Err() != nil
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = err
			}
		})
		if ferr != nil {
			return nil, fmt.Errorf("read state topic %s partition %d: %w", topic, partition, ferr)
		}
		read := false
		fs.EachRecord(func(r *kgo.Record) {
			next, read = r.Offset+1, true
			if r.Attrs.IsControl() || string(r.Key) == ownerKey {
				return
			}
			if r.Value == nil { // a tombstone: the key is forgotten
				delete(store.m, idOf(string(r.Key)))
				return
			}
			if s, err := schema.DecodeLeadState(r.Value); err == nil {
				store.m[idOf(string(r.Key))] = stateOf(s)
			}
		})
		if next >= end {
			return store, nil
		}
		if read {
			stalls = 0
		}
		if !quiet {
			continue
		}
		done, err := drained(ctx, conn, topic, partition, next, end)
		if err == nil && done {
			return store, nil // a compacted tail
		}
		if stalls++; stalls >= restoreStalls {
			if err == nil {
				err = errors.New("records are left")
			}
			return nil, fmt.Errorf("read state topic %s partition %d: stalled at offset %d, below the end %d: %w",
				topic, partition, next, end, err)
		}
	}
}

// drained asks the partition's leader, in read_committed fetches that do
// not wait, whether any record (or transaction marker) is left in
// [next, end), following its answers past batches compaction emptied. An
// error, or an answer it cannot read, is no confirmation.
func drained(ctx context.Context, conn []kgo.Opt, topic string, partition int32, next, end int64) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*restoreQuiet)
	defer cancel()
	cl, err := kgo.NewClient(conn...) // not the restore's client: its fetch connection may be the one stalled
	if err != nil {
		return false, err
	}
	defer cl.Close()
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return false, err
	}
	var (
		id            [16]byte
		leader, epoch int32 = -1, -1
	)
	for _, t := range mresp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return false, err
		}
		id = t.TopicID
		for _, p := range t.Partitions {
			if p.Partition == partition {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return false, err
				}
				leader, epoch = p.Leader, p.LeaderEpoch
			}
		}
	}
	if leader < 0 {
		return false, errors.New("no leader known")
	}
	for at := next; ; {
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis, req.IsolationLevel, req.MaxBytes = 0, 1, 16<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, id
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = partition, at, 16<<20, epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		kresp, err := cl.Broker(int(leader)).Request(ctx, req)
		if err != nil {
			return false, err
		}
		resp := kresp.(*kmsg.FetchResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return false, err
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return false, errors.New("fetch: no answer for the partition")
		}
		p := &resp.Topics[0].Partitions[0]
		fp, after := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{KeepControlRecords: true, Offset: at,
			IsolationLevel: kgo.ReadCommitted(), Topic: topic, Partition: partition}, p, kgo.DefaultDecompressor(), nil)
		if fp.Err != nil {
			return false, fp.Err
		}
		for _, r := range fp.Records {
			if r.Offset < end {
				return false, nil
			}
		}
		switch {
		case len(p.RecordBatches) == 0 && p.LastStableOffset >= end:
			return true, nil // nothing from at up to the last stable offset
		case len(p.RecordBatches) == 0:
			return false, fmt.Errorf("the leader's last stable offset %d is below %d", p.LastStableOffset, end)
		case after >= end:
			return true, nil
		case after <= at:
			return false, fmt.Errorf("fetch at offset %d: no progress", at)
		}
		at = after
	}
}

// ownerKey is the key of the record that opens every transaction's writes
// to a state partition; its value is the writer's transactional id. It is
// not a lead key (those start with a provider name).
const ownerKey = "leadbridge:owner"

// fenceZombie ends a transaction left open on a state partition by a member
// that died (or was expelled) mid-batch. Its records, and its records on
// leads and the DLQ, would stay invisible to read_committed readers until
// the brokers time the transaction out (transaction_timeout plus their
// cleanup interval, up to ~20 s): re-initialising its transactional id
// aborts it at once, and fences the old member if it still runs (its next
// End fails and it stops). self is this member's own id, never fenced.
func fenceZombie(ctx context.Context, conn []kgo.Opt, topic string, partition int32, self string, log func(string)) error {
	adm, err := kgo.NewClient(conn...)
	if err != nil {
		return err
	}
	_, stable, err := offsets(ctx, adm, topic, partition, 1)
	if err == nil {
		var hwm int64
		if _, hwm, err = offsets(ctx, adm, topic, partition, 0); err == nil && stable >= hwm {
			adm.Close()
			return nil // no open transaction
		}
	}
	adm.Close()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(conn,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(stable)}}),
		kgo.FetchMaxWait(100*time.Millisecond))...)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	var owner string
	cl.PollRecords(pctx, 1).EachRecord(func(r *kgo.Record) {
		if string(r.Key) == ownerKey {
			owner = string(r.Value)
		}
	})
	cancel()
	cl.Close()
	if owner == "" || owner == self {
		return nil
	}
	z, err := kgo.NewClient(append(conn, kgo.TransactionalID(owner))...)
	if err != nil {
		return err
	}
	defer z.Close()
	if _, _, err := z.ProducerID(ctx); err != nil {
		return fmt.Errorf("fence transactional id %s: %w", owner, err)
	}
	log(owner)
	return nil
}
