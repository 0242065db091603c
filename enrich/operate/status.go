package operate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/schema"
)

// StatusOptions configure ReadStatus.
type StatusOptions struct {
	Kafka  []kgo.Opt // cluster options: seeds, TLS, SASL, logger
	Group  string    // the enrich consumer group
	Topics Topics
	// DLQScan bounds how many of the newest DLQ (and retry) records are read
	// to count them by reason. Default 1000; the topic's size is exact anyway.
	DLQScan int
	// MaxLag: Status.Healthy is false when the raw lag exceeds it. Negative:
	// no limit.
	MaxLag int64
	Now    func() time.Time // default time.Now
}

// Member is one member of the group and its raw partitions.
type Member struct {
	ID         string  `json:"id"`
	ClientID   string  `json:"client_id"`
	Host       string  `json:"host"`
	Partitions []int32 `json:"partitions"`
}

// PartitionStatus is one raw partition from the group's point of view.
type PartitionStatus struct {
	Partition     int32 `json:"partition"`
	Committed     int64 `json:"committed"` // -1: the group has committed nothing here
	HighWatermark int64 `json:"high_watermark"`
	Lag           int64 `json:"lag"`
	// OldestUncommittedAgeMS is how long ago the first record past the
	// committed offset was written; absent when the lag is 0 or unread.
	OldestUncommittedAgeMS *int64 `json:"oldest_uncommitted_age_ms,omitempty"`
}

// TopicCounts is a dead-letter (or retry) topic's size and its newest
// records counted by reason.
type TopicCounts struct {
	Topic    string         `json:"topic"`
	Records  int64          `json:"records"` // end minus start offsets, markers included
	Scanned  int            `json:"scanned"` // newest records read for ByReason
	ByReason map[string]int `json:"by_reason"`
}

// Status is the group-wide view.
type Status struct {
	Group      string            `json:"group"`
	State      string            `json:"state"`
	Members    []Member          `json:"members"`
	Raw        string            `json:"raw_topic"`
	Partitions []PartitionStatus `json:"raw_partitions"`
	Lag        int64             `json:"lag"`
	MaxLag     int64             `json:"max_lag"`
	Healthy    bool              `json:"healthy"`
	Dead       []TopicCounts     `json:"dead_letters"`
	// NewestLead is the timestamp of the newest committed lead record.
	NewestLead *time.Time `json:"newest_lead_record,omitempty"`
	TookMS     int64      `json:"took_ms"`
}

// ReadStatus reads the group-wide view from the broker alone.
func ReadStatus(ctx context.Context, opts StatusOptions) (Status, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	start := time.Now()
	if opts.DLQScan <= 0 {
		opts.DLQScan = 1000
	}
	st := Status{Group: opts.Group, Raw: opts.Topics.Raw, MaxLag: opts.MaxLag, Members: []Member{}, Dead: []TopicCounts{}}
	cl, err := kgo.NewClient(opts.Kafka...)
	if err != nil {
		return st, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	topics := []string{opts.Topics.Raw, opts.Topics.Leads, opts.Topics.DLQ}
	if opts.Topics.Retry != "" {
		topics = append(topics, opts.Topics.Retry)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return st, fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return st, fmt.Errorf("list end offsets: %w", err)
	}
	if err := listedErrors(starts, ends); err != nil {
		return st, fmt.Errorf("list offsets: %w", err)
	}
	if err := st.readGroup(ctx, adm, opts.Topics.Raw); err != nil {
		return st, err
	}
	committed, err := adm.FetchOffsets(ctx, opts.Group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // nothing committed yet
	}
	if err != nil {
		return st, fmt.Errorf("fetch offsets of group %s: %w", opts.Group, err)
	}

	// Raw partitions: lag from the broker's offsets, then one read for the age.
	ageSpans := map[int32]span{}
	for _, p := range slices.Sorted(maps.Keys(ends[opts.Topics.Raw])) {
		end := ends[opts.Topics.Raw][p].Offset
		ps := PartitionStatus{Partition: p, Committed: -1, HighWatermark: end}
		from := starts[opts.Topics.Raw][p].Offset
		if o, ok := committed.Lookup(opts.Topics.Raw, p); ok && o.Err == nil && o.At >= 0 {
			ps.Committed = o.At
			from = max(from, o.At)
		}
		ps.Lag = max(end-from, 0)
		if ps.Lag > 0 {
			ageSpans[p] = span{From: from, To: end, Limit: 1}
		}
		st.Lag += ps.Lag
		st.Partitions = append(st.Partitions, ps)
	}
	err = scan(ctx, opts.Kafka, false, map[string]map[int32]span{opts.Topics.Raw: ageSpans}, func(r *kgo.Record) {
		for i := range st.Partitions {
			if st.Partitions[i].Partition == r.Partition {
				age := max(now().Sub(r.Timestamp).Milliseconds(), 0)
				st.Partitions[i].OldestUncommittedAgeMS = &age
			}
		}
	})
	if err != nil {
		return st, err
	}

	for _, t := range []string{opts.Topics.DLQ, opts.Topics.Retry} {
		if t == "" {
			continue
		}
		tc, err := countByReason(ctx, opts.Kafka, t, starts[t], ends[t], opts.DLQScan)
		if err != nil {
			return st, err
		}
		st.Dead = append(st.Dead, tc)
	}

	// The newest lead: the last few offsets of each partition (the very last
	// is usually a transaction marker), read committed, as downstream reads.
	leadSpans := map[int32]span{}
	for p, o := range ends[opts.Topics.Leads] {
		if from := max(o.Offset-8, starts[opts.Topics.Leads][p].Offset); from < o.Offset {
			leadSpans[p] = span{From: from, To: o.Offset}
		}
	}
	err = scan(ctx, opts.Kafka, true, map[string]map[int32]span{opts.Topics.Leads: leadSpans}, func(r *kgo.Record) {
		if st.NewestLead == nil || r.Timestamp.After(*st.NewestLead) {
			ts := r.Timestamp.UTC()
			st.NewestLead = &ts
		}
	})
	if err != nil {
		return st, err
	}
	st.Healthy = opts.MaxLag < 0 || st.Lag <= opts.MaxLag
	st.TookMS = time.Since(start).Milliseconds()
	return st, nil
}

// readGroup fills the group's state and members: the classic protocol's
// describe, else KIP-848's.
func (st *Status) readGroup(ctx context.Context, adm *kadm.Client, raw string) error {
	described, err := adm.DescribeGroups(ctx, st.Group)
	if err != nil {
		return fmt.Errorf("describe group %s: %w", st.Group, err)
	}
	g := described[st.Group]
	if errors.Is(g.Err, kerr.GroupIDNotFound) {
		st.State = "unknown (no such group)"
		return nil
	}
	if g.Err != nil {
		return fmt.Errorf("describe group %s: %w", st.Group, g.Err)
	}
	st.State = g.State
	for _, m := range g.Members {
		mem := Member{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Partitions: []int32{}}
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				if t.Topic == raw {
					mem.Partitions = append(mem.Partitions, t.Partitions...)
				}
			}
		}
		slices.Sort(mem.Partitions)
		st.Members = append(st.Members, mem)
	}
	if len(st.Members) > 0 || g.ProtocolType == "consumer" {
		return nil
	}
	// A group on the consumer protocol (KIP-848) is described by its own API;
	// an older broker does not know it, which leaves the classic answer.
	cg, err := adm.DescribeConsumerGroups(ctx, st.Group)
	if err != nil || cg[st.Group].Err != nil {
		return nil
	}
	st.State = cg[st.Group].State
	for _, m := range cg[st.Group].Members {
		mem := Member{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Partitions: []int32{}}
		for p := range m.Assignment[raw] {
			mem.Partitions = append(mem.Partitions, p)
		}
		slices.Sort(mem.Partitions)
		st.Members = append(st.Members, mem)
	}
	return nil
}

// countByReason sizes a topic and counts its newest records (at most limit,
// spread over the partitions) by leadbridge_dlq_reason.
func countByReason(ctx context.Context, base []kgo.Opt, topic string, starts, ends map[int32]kadm.ListedOffset, limit int) (TopicCounts, error) {
	tc := TopicCounts{Topic: topic, ByReason: map[string]int{}}
	for p, e := range ends {
		tc.Records += e.Offset - starts[p].Offset
	}
	if len(ends) == 0 {
		return tc, nil
	}
	// The newest per records of each partition. enrich writes the DLQ and
	// the retry topic in transactions, so the last offsets hold markers (and
	// aborted records) too: a window of per offsets can hold none of the
	// records. The window grows until it holds per records or reaches the
	// partition's start (at most maxWiden times per offsets).
	per := max(limit/len(ends), 1)
	reasons := map[int32][]string{}
	short := map[int32]bool{}
	for p := range ends {
		short[p] = true
	}
	for window := int64(per); len(short) > 0; window *= 4 {
		spans := map[int32]span{}
		for p := range short {
			from := max(ends[p].Offset-window, starts[p].Offset)
			spans[p] = span{From: from, To: ends[p].Offset}
			reasons[p] = nil
		}
		err := scan(ctx, base, true, map[string]map[int32]span{topic: spans}, func(r *kgo.Record) {
			reason := schema.Header(r, schema.HeaderDLQReason)
			if reason == "" {
				reason = "(none)"
			}
			reasons[r.Partition] = append(reasons[r.Partition], reason)
		})
		if err != nil {
			return tc, err
		}
		for p, s := range spans {
			if len(reasons[p]) >= per || s.From == starts[p].Offset || window >= maxWiden*int64(per) {
				delete(short, p)
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(reasons)) {
		rs := reasons[p]
		for _, reason := range rs[max(len(rs)-per, 0):] {
			if tc.Scanned >= limit {
				break
			}
			tc.Scanned++
			tc.ByReason[reason]++
		}
	}
	return tc, nil
}

// maxWiden bounds countByReason's window, in multiples of the records it
// looks for: a partition of mostly aborted records is not read whole.
const maxWiden = 64

// WriteJSON prints the status as one JSON object.
func (st Status) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(st)
}

// WriteText prints the status for a terminal.
func (st Status) WriteText(w io.Writer) {
	fmt.Fprintf(w, "group %s: %s, %d member(s)\n", st.Group, st.State, len(st.Members))
	for _, m := range st.Members {
		fmt.Fprintf(w, "  %s (%s, %s): partitions %s\n", m.ID, m.ClientID, m.Host, joinInts(m.Partitions))
	}
	fmt.Fprintf(w, "raw %s: lag %d\n", st.Raw, st.Lag)
	fmt.Fprintf(w, "  %9s %12s %14s %10s %12s\n", "partition", "committed", "high_watermark", "lag", "oldest_age")
	for _, p := range st.Partitions {
		age := "-"
		if p.OldestUncommittedAgeMS != nil {
			age = (time.Duration(*p.OldestUncommittedAgeMS) * time.Millisecond).Round(time.Millisecond).String()
		}
		fmt.Fprintf(w, "  %9d %12d %14d %10d %12s\n", p.Partition, p.Committed, p.HighWatermark, p.Lag, age)
	}
	for _, d := range st.Dead {
		fmt.Fprintf(w, "%s: %d record(s); newest %d by reason:", d.Topic, d.Records, d.Scanned)
		if len(d.ByReason) == 0 {
			fmt.Fprint(w, " none")
		}
		for _, r := range slices.Sorted(maps.Keys(d.ByReason)) {
			fmt.Fprintf(w, " %s=%d", r, d.ByReason[r])
		}
		fmt.Fprintln(w)
	}
	if st.NewestLead != nil {
		fmt.Fprintf(w, "newest lead record: %s\n", st.NewestLead.Format(time.RFC3339Nano))
	} else {
		fmt.Fprintln(w, "newest lead record: none")
	}
	health := "healthy"
	if !st.Healthy {
		health = fmt.Sprintf("UNHEALTHY: lag %d exceeds %d", st.Lag, st.MaxLag)
	}
	fmt.Fprintf(w, "%s (status took %d ms)\n", health, st.TookMS)
}

func joinInts(ps []int32) string {
	if len(ps) == 0 {
		return "none"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ",")
}
