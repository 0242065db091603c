package operate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/schema"
)

// ReplayOptions configure Replay.
type ReplayOptions struct {
	Kafka  []kgo.Opt // cluster options: seeds, TLS, SASL, logger
	Topics Topics    // Raw is read and written
	// Since (required) and Until (zero: now) bound the raw records replayed,
	// by record timestamp (when ingest wrote them).
	Since, Until time.Time
	// Source keeps only records with this ce_source (an Aurora tenant's or a
	// LeadPro account's); empty: all.
	Source string
	DryRun bool
	Now    func() time.Time // default time.Now
}

// ReplayReport is what Replay did, or in a dry run would do.
type ReplayReport struct {
	DryRun  bool
	Scanned int // raw records read, from Since to the end
	InRange int // of which in [Since, Until) and matching the source
	// Keys is how many lead keys the range touches; Replayed of them had
	// their newest record re-produced. Superseded had a newer record after
	// Until, already enriched; replaying the older one could only regress.
	Keys, Replayed, Superseded int
	Took                       time.Duration
}

// replayBatch is how many records go in one transaction.
const replayBatch = 1000

type position struct {
	partition int32
	offset    int64
}

// Replay re-enriches a time range of raw through the normal path: for every
// lead key with a record in the range, the key's newest raw record is
// produced again to raw (same key, value and headers, plus leadbridge_replay),
// in transactions, so enrich processes it as if it had just arrived; with
// no-op suppression an unchanged lead produces nothing. Copies made by an
// earlier replay are not replayed again.
func Replay(ctx context.Context, opts ReplayOptions) (rep ReplayReport, err error) {
	start := time.Now()
	defer func() { rep.Took = time.Since(start) }()
	rep.DryRun = opts.DryRun
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if opts.Since.IsZero() {
		return rep, errors.New("replay needs a start time")
	}
	cl, err := kgo.NewClient(opts.Kafka...)
	if err != nil {
		return rep, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	from, err := adm.ListOffsetsAfterMilli(ctx, opts.Since.UnixMilli(), opts.Topics.Raw)
	if err == nil {
		err = listedErrors(from)
	}
	if err != nil {
		return rep, fmt.Errorf("offsets of %s at %s: %w", opts.Topics.Raw, opts.Since.Format(time.RFC3339), err)
	}
	ends, err := adm.ListEndOffsets(ctx, opts.Topics.Raw)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return rep, fmt.Errorf("end offsets of %s: %w", opts.Topics.Raw, err)
	}
	spans := map[int32]span{}
	for p, e := range ends[opts.Topics.Raw] {
		if f := from[opts.Topics.Raw][p].Offset; f >= 0 && f < e.Offset {
			spans[p] = span{From: f, To: e.Offset}
		}
	}
	all := map[string]map[int32]span{opts.Topics.Raw: spans}

	// Pass 1: the newest record of every key from Since to the end.
	newest := map[string]position{}
	inRange := map[string]bool{}
	until := opts.Until
	if until.IsZero() {
		until = now()
	}
	err = scan(ctx, opts.Kafka, true, all, func(r *kgo.Record) {
		rep.Scanned++
		if schema.Header(r, schema.HeaderReplay) != "" || (opts.Source != "" && schema.Header(r, schema.HeaderSource) != opts.Source) {
			return
		}
		k := string(r.Key)
		newest[k] = position{r.Partition, r.Offset}
		if r.Timestamp.Before(until) {
			rep.InRange++
			inRange[k] = true
		}
	})
	if err != nil {
		return rep, err
	}
	chosen := map[position]bool{}
	for k := range inRange {
		rep.Keys++
		// A key's newest record at or after Until is newer state, enriched already.
		chosen[newest[k]] = true
	}
	// Which chosen records are in range is only known with their timestamp:
	// pass 2 reads them and decides.
	var cli *kgo.Client
	if !opts.DryRun {
		id := make([]byte, 8)
		_, _ = rand.Read(id)
		if cli, err = kgo.NewClient(append(opts.Kafka[:len(opts.Kafka):len(opts.Kafka)],
			kgo.TransactionalID("leadbridge-replay-"+hex.EncodeToString(id)), kgo.RequiredAcks(kgo.AllISRAcks()))...); err != nil {
			return rep, fmt.Errorf("kafka client: %w", err)
		}
		defer cli.Close()
	}
	at := []byte(now().UTC().Format(time.RFC3339Nano))
	var batch []*kgo.Record
	flush := func() error {
		if len(batch) == 0 || opts.DryRun {
			batch = batch[:0]
			return nil
		}
		if err := cli.BeginTransaction(); err != nil {
			return fmt.Errorf("begin replay transaction: %w", err)
		}
		prodErr := cli.ProduceSync(ctx, batch...).FirstErr()
		endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := errors.Join(prodErr, cli.EndTransaction(endCtx, kgo.TransactionEndTry(prodErr == nil))); err != nil {
			return fmt.Errorf("replay to %s: %w", opts.Topics.Raw, err)
		}
		rep.Replayed += len(batch)
		batch = batch[:0]
		return nil
	}
	var flushErr error
	err = scan(ctx, opts.Kafka, true, all, func(r *kgo.Record) {
		if flushErr != nil || !chosen[position{r.Partition, r.Offset}] {
			return
		}
		if !r.Timestamp.Before(until) {
			rep.Superseded++
			return
		}
		if opts.DryRun {
			rep.Replayed++
			return
		}
		out := &kgo.Record{Topic: opts.Topics.Raw, Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			if h.Key != schema.HeaderRedriveCount {
				out.Headers = append(out.Headers, h)
			}
		}
		out.Headers = append(out.Headers, kgo.RecordHeader{Key: schema.HeaderReplay, Value: at})
		batch = append(batch, out)
		if len(batch) >= replayBatch {
			flushErr = flush()
		}
	})
	if err = errors.Join(err, flushErr); err != nil {
		return rep, err
	}
	return rep, flush()
}

// WriteText prints the counts.
func (r ReplayReport) WriteText(w io.Writer) {
	verb := "replayed"
	if r.DryRun {
		verb = "would be replayed (dry run)"
	}
	fmt.Fprintf(w, "raw records read: %d, in the range: %d, lead keys: %d\n", r.Scanned, r.InRange, r.Keys)
	fmt.Fprintf(w, "%d key(s) %s with their newest record; %d already have a newer record after the range (skipped) in %s\n",
		r.Replayed, verb, r.Superseded, r.Took.Round(time.Millisecond))
}
