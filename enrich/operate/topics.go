package operate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topics names the topics the commands work on; names come from the
// configuration. Empty optional topics are skipped.
type Topics struct {
	Raw      string
	Leads    string
	DLQ      string
	Retry    string // optional: the enricher's retry topic
	Erasures string // forget's audit topic
}

// topicError names the topic an error is about, and says what to run when
// the topic does not exist (the brokers' UNKNOWN_TOPIC_OR_PARTITION names
// none).
func topicError(topic string, err error) error {
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("topic %s does not exist (run leadbridge topics create)", topic)
	}
	return fmt.Errorf("topic %s: %w", topic, err)
}

// listedErrors is the per-topic errors of listed offsets, one per topic.
func listedErrors(lists ...kadm.ListedOffsets) error {
	bad := map[string]error{}
	for _, l := range lists {
		l.Each(func(o kadm.ListedOffset) {
			if o.Err != nil && bad[o.Topic] == nil {
				bad[o.Topic] = o.Err
			}
		})
	}
	var errs []error
	for _, t := range slices.Sorted(maps.Keys(bad)) {
		errs = append(errs, topicError(t, bad[t]))
	}
	return errors.Join(errs...)
}

// span is what to read of one partition: from offset From, at most Limit
// records (0: no limit), stopping before To.
type span struct {
	From, To int64
	Limit    int
}

// idleAfter ends a bounded read when a poll brings nothing new: the rest of
// a span is transaction markers or records not yet committed.
// firstFetch bounds the wait for the first records (connecting included).
const (
	idleAfter  = 500 * time.Millisecond
	firstFetch = 5 * time.Second
)

// scan reads the spans and calls fn for each record in them. It returns when
// every span is read, the reads go idle, or ctx ends (not an error: what
// was read is the answer).
func scan(ctx context.Context, base []kgo.Opt, readCommitted bool, spans map[string]map[int32]span, fn func(*kgo.Record)) error {
	parts := map[string]map[int32]kgo.Offset{}
	left := 0
	for t, ps := range spans {
		for p, s := range ps {
			if s.From >= s.To {
				continue
			}
			if parts[t] == nil {
				parts[t] = map[int32]kgo.Offset{}
			}
			parts[t][p] = kgo.NewOffset().At(s.From)
			left++
		}
	}
	if left == 0 {
		return nil
	}
	iso := kgo.ReadUncommitted()
	if readCommitted {
		iso = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(append(base[:len(base):len(base)], kgo.ConsumePartitions(parts), kgo.FetchIsolationLevel(iso),
		// Transaction markers come back too, so that a span ending in one
		// is known to be read (they are never handed to fn).
		kgo.KeepControlRecords())...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	count := map[string]map[int32]int{}
	first := true
	for left > 0 {
		wait := idleAfter
		if first {
			wait = firstFetch
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		first = false
		got := 0
		for _, fe := range fs.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) && !errors.Is(fe.Err, context.Canceled) {
				return fmt.Errorf("read %s[%d]: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			s := spans[r.Topic][r.Partition]
			if count[r.Topic] == nil {
				count[r.Topic] = map[int32]int{}
			}
			n := count[r.Topic][r.Partition]
			if r.Offset >= s.To || (s.Limit > 0 && n >= s.Limit) {
				return
			}
			if !r.Attrs.IsControl() {
				n++
				count[r.Topic][r.Partition] = n
				fn(r)
			}
			if r.Offset >= s.To-1 || (s.Limit > 0 && n >= s.Limit) {
				left--
				cl.PauseFetchPartitions(map[string][]int32{r.Topic: {r.Partition}})
			}
		})
		if got == 0 {
			return nil
		}
	}
	return nil
}
