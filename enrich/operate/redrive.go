package operate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/schema"
)

// RedriveOptions configure Redrive.
type RedriveOptions struct {
	Kafka  []kgo.Opt // cluster options: seeds, TLS, SASL, logger
	Topics Topics    // DLQ is read, Raw is written
	// Filters: a record matches when its reason is one of Reasons (any when
	// empty; each must be one of schema.DLQReasons, or Redrive refuses to
	// start), its key one of Keys (any when empty), and the time it was
	// dead-lettered (the record's timestamp) is in [Since, Until) (zero:
	// unbounded).
	Reasons      []string
	Keys         []string
	Since, Until time.Time
	// SinceAgo is how long before the run Since is, when it was given as a
	// duration ("--since 24h"): the group is named by the duration, not the
	// time it resolved to, so the same command run again continues where
	// the last run stopped instead of redriving the same records again.
	// (A relative Until has no such name: a group that kept its position
	// would have passed records that were too new then and match now.)
	SinceAgo time.Duration
	// DryRun counts the matching records by reason and key and writes
	// nothing (the group's position does not move either).
	DryRun bool
	// Group is the consumer group, and transactional id, that remembers how
	// far the redrive got. Default: RedriveGroup(the filters), so the same
	// redrive run twice redrives nothing the second time.
	Group  string
	Logger *zap.Logger
}

// RedriveGroup is the default group of a redrive with these filters:
// "leadbridge-redrive-" and a hash of them. A redrive with other filters has
// its own position, starting at the DLQ's beginning.
func RedriveGroup(o RedriveOptions) string {
	reasons, keys := slices.Sorted(slices.Values(o.Reasons)), slices.Sorted(slices.Values(o.Keys))
	h := sha256.New()
	since := strconv.FormatInt(unixMilli(o.Since), 10)
	if o.SinceAgo > 0 {
		since = "ago " + o.SinceAgo.String() // stable across runs; a time never prints as this
	}
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%d", o.Topics.DLQ, strings.Join(reasons, "\x01"), strings.Join(keys, "\x01"), since, unixMilli(o.Until))
	return "leadbridge-redrive-" + hex.EncodeToString(h.Sum(nil))[:12]
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func (o RedriveOptions) matches(r *kgo.Record) bool {
	if len(o.Reasons) > 0 && !slices.Contains(o.Reasons, schema.Header(r, schema.HeaderDLQReason)) {
		return false
	}
	if len(o.Keys) > 0 && !slices.Contains(o.Keys, string(r.Key)) {
		return false
	}
	return (o.Since.IsZero() || !r.Timestamp.Before(o.Since)) && (o.Until.IsZero() || r.Timestamp.Before(o.Until))
}

// RedriveReport is what Redrive did, or in a dry run would do.
type RedriveReport struct {
	Group    string
	DryRun   bool
	Scanned  int            // DLQ records read past the group's position
	Redriven int            // matching records written to raw (or that would be)
	ByReason map[string]int // of the matching records
	ByKey    map[string]int
	Took     time.Duration
}

// redriven returns the raw record for a DLQ record: the original key, value
// and headers (CloudEvents ones and any other, such as trace context), without
// the DLQ's own headers, with leadbridge_redrive_count one more than before.
func redriven(r *kgo.Record, raw string) *kgo.Record {
	count := 0
	out := &kgo.Record{Topic: raw, Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		switch {
		case h.Key == schema.HeaderRedriveCount:
			count, _ = strconv.Atoi(string(h.Value))
		case strings.HasPrefix(h.Key, "leadbridge_dlq_"):
		default:
			out.Headers = append(out.Headers, h)
		}
	}
	out.Headers = append(out.Headers, kgo.RecordHeader{Key: schema.HeaderRedriveCount, Value: []byte(strconv.Itoa(count + 1))})
	return out
}

// Redrive puts the matching DLQ records back on raw, exactly once: it
// consumes the DLQ in its own consumer group and writes the raw records and
// the group's offsets in one transaction, so a crash redoes the unfinished
// batch and a second run with the same filters finds nothing new. It stops
// at the DLQ's end as of its start.
func Redrive(ctx context.Context, opts RedriveOptions) (rep RedriveReport, err error) {
	for _, r := range opts.Reasons { // a reason enrich never writes matches nothing, in a group of its own
		if _, err := schema.ParseDLQReason(r); err != nil {
			return rep, fmt.Errorf("redrive: %w", err)
		}
	}
	start := time.Now()
	if opts.Group == "" {
		opts.Group = RedriveGroup(opts)
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	rep = RedriveReport{Group: opts.Group, DryRun: opts.DryRun, ByReason: map[string]int{}, ByKey: map[string]int{}}
	defer func() { rep.Took = time.Since(start) }()

	spans, err := pending(ctx, opts.Kafka, opts.Group, opts.Topics.DLQ)
	if err != nil || len(spans) == 0 {
		return rep, err
	}
	count := func(r *kgo.Record, into *RedriveReport) {
		into.Redriven++
		into.ByReason[schema.Header(r, schema.HeaderDLQReason)]++
		into.ByKey[string(r.Key)]++
	}
	if opts.DryRun {
		err := scan(ctx, opts.Kafka, true, map[string]map[int32]span{opts.Topics.DLQ: spans}, func(r *kgo.Record) {
			rep.Scanned++
			if opts.matches(r) {
				count(r, &rep)
			}
		})
		return rep, err
	}
	// Join only when a committed record is waiting: the rest may be markers.
	waiting := false
	firstOnly := map[int32]span{}
	for p, s := range spans {
		firstOnly[p] = span{From: s.From, To: s.To, Limit: 1}
	}
	if err := scan(ctx, opts.Kafka, true, map[string]map[int32]span{opts.Topics.DLQ: firstOnly}, func(*kgo.Record) { waiting = true }); err != nil || !waiting {
		return rep, err
	}

	sess, err := kgo.NewGroupTransactSession(append(opts.Kafka[:len(opts.Kafka):len(opts.Kafka)],
		kgo.ConsumerGroup(opts.Group),
		kgo.ConsumeTopics(opts.Topics.DLQ),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.KeepControlRecords(), // so the position moves past the last marker

		kgo.TransactionalID(opts.Group),
		kgo.TransactionTimeout(time.Minute),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)...)
	if err != nil {
		return rep, fmt.Errorf("redrive session: %w", err)
	}
	defer sess.Close()

	wait := 30 * time.Second // the first poll includes joining the group
	for {
		pctx, cancel := context.WithTimeout(ctx, wait)
		fs := sess.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		if err := fetchErr(fs); err != nil {
			return rep, err
		}
		if fs.NumRecords() == 0 {
			return rep, nil // idle: nothing more, even if the end was not seen
		}
		wait = idleAfter * 2
		if err := sess.Begin(); err != nil {
			return rep, fmt.Errorf("begin redrive transaction: %w", err)
		}
		batch := RedriveReport{ByReason: map[string]int{}, ByKey: map[string]int{}}
		var (
			mu      sync.Mutex
			prodErr error
		)
		// Every polled record is handled, even one written after the start:
		// its offset is committed with this transaction.
		fs.EachRecord(func(r *kgo.Record) {
			if r.Attrs.IsControl() {
				return
			}
			batch.Scanned++
			if !opts.matches(r) {
				return
			}
			count(r, &batch)
			sess.Produce(ctx, redriven(r, opts.Topics.Raw), func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					prodErr = errors.Join(prodErr, err)
					mu.Unlock()
				}
			})
		})
		committed, err := sess.End(ctx, kgo.TransactionEndTry(prodErrNil(&mu, &prodErr)))
		if err != nil {
			return rep, fmt.Errorf("end redrive transaction: %w", err)
		}
		if prodErr != nil {
			return rep, fmt.Errorf("redrive to %s (aborted, nothing of this batch was written): %w", opts.Topics.Raw, prodErr)
		}
		if !committed {
			opts.Logger.Info("redrive transaction aborted by a rebalance; the batch is read again")
			continue
		}
		rep.Scanned += batch.Scanned
		rep.Redriven += batch.Redriven
		for k, v := range batch.ByReason {
			rep.ByReason[k] += v
		}
		for k, v := range batch.ByKey {
			rep.ByKey[k] += v
		}
		if reached(sess.Client().CommittedOffsets()[opts.Topics.DLQ], spans) {
			return rep, nil
		}
	}
}

func prodErrNil(mu *sync.Mutex, err *error) bool {
	mu.Lock()
	defer mu.Unlock()
	return *err == nil
}

func fetchErr(fs kgo.Fetches) error {
	for _, fe := range fs.Errors() {
		if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
			continue
		}
		return fmt.Errorf("read %s[%d]: %w", fe.Topic, fe.Partition, fe.Err)
	}
	return nil
}

func reached(committed map[int32]kgo.EpochOffset, spans map[int32]span) bool {
	for p, s := range spans {
		if committed[p].Offset < s.To {
			return false
		}
	}
	return true
}

// pending returns, per partition of topic, the offsets between the group's
// committed position (else the start) and the end: what a run has to read.
func pending(ctx context.Context, base []kgo.Opt, group, topic string) (map[int32]span, error) {
	cl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = listedErrors(starts)
	}
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = listedErrors(ends)
	}
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return nil, fmt.Errorf("fetch offsets of %s: %w", group, err)
	}
	out := map[int32]span{}
	for p, e := range ends[topic] {
		from := starts[topic][p].Offset
		if o, ok := committed.Lookup(topic, p); ok && o.Err == nil && o.At > from {
			from = o.At
		}
		if from < e.Offset {
			out[p] = span{From: from, To: e.Offset}
		}
	}
	return out, nil
}

// WriteText prints the report: counts by reason and by key, then a summary.
func (r RedriveReport) WriteText(w io.Writer) {
	verb := "redriven"
	if r.DryRun {
		verb = "would be redriven (dry run)"
	}
	for _, k := range slices.Sorted(maps.Keys(r.ByReason)) {
		fmt.Fprintf(w, "reason %s: %d\n", k, r.ByReason[k])
	}
	for _, k := range slices.Sorted(maps.Keys(r.ByKey)) {
		fmt.Fprintf(w, "key %s: %d\n", k, r.ByKey[k])
	}
	rate := ""
	if secs := r.Took.Seconds(); secs > 0 && r.Redriven > 0 && !r.DryRun {
		rate = fmt.Sprintf(", %.0f records/s", float64(r.Redriven)/secs)
	}
	fmt.Fprintf(w, "%d of %d DLQ record(s) past the position of group %s %s in %s%s\n",
		r.Redriven, r.Scanned, r.Group, verb, r.Took.Round(time.Millisecond), rate)
}
