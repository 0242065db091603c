package topics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Config is the topics part of the configuration (topics: in the YAML).
type Config struct {
	Raw   string `yaml:"raw"`
	Leads string `yaml:"leads"`
	DLQ   string `yaml:"dlq"`
	// Erasures is the audit topic of `leadbridge forget` (never expires).
	Erasures string `yaml:"erasures"` // default leads.erasures
	// State is enrich's compacted per-lead state (exactly-once), with as
	// many partitions as raw.
	State string `yaml:"state"` // default leads.state
	// Retry holds leads that keep failing, out of enrich's main path
	// (exactly-once), with as many partitions as raw.
	Retry             string        `yaml:"retry"` // default leads.retry
	Partitions        int32         `yaml:"partitions"`
	ReplicationFactor int16         `yaml:"replication_factor"`
	RawRetention      time.Duration `yaml:"raw_retention"` // default 168h (7 days)
	DLQRetention      time.Duration `yaml:"dlq_retention"` // default 720h (30 days)
}

// Defaults are the topics of a configuration that names none.
func Defaults() Config {
	return Config{Raw: "leads.raw", Leads: "leads", DLQ: "leads.dlq", Erasures: "leads.erasures", State: "leads.state", Retry: "leads.retry", Partitions: 12, ReplicationFactor: 1,
		RawRetention: 7 * 24 * time.Hour, DLQRetention: 30 * 24 * time.Hour}
}

// Resolve maps the aliases raw, leads and dlq to the configured topic
// names; any other name is itself.
func (c Config) Resolve(name string) string {
	switch name {
	case "raw":
		return c.Raw
	case "leads":
		return c.Leads
	case "dlq":
		return c.DLQ
	}
	return name
}

// Spec is one topic leadbridge owns and the settings it needs.
type Spec struct {
	Role    string // raw, leads, dlq, erasures, state or retry
	Name    string
	Configs map[string]string
}

// Specs derives the topics from the configuration. The leads topic is
// compacted (one record per lead key is what downstream reads); raw and DLQ
// are deleted by time.
func Specs(t Config) []Spec {
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	with := func(m map[string]string) map[string]string {
		if t.ReplicationFactor > 1 {
			m["min.insync.replicas"] = strconv.Itoa(min(2, int(t.ReplicationFactor)))
		}
		return m
	}
	return []Spec{
		{"raw", t.Raw, with(map[string]string{"cleanup.policy": "delete", "retention.ms": ms(t.RawRetention)})},
		{"leads", t.Leads, with(map[string]string{"cleanup.policy": "compact"})},
		{"dlq", t.DLQ, with(map[string]string{"cleanup.policy": "delete", "retention.ms": ms(t.DLQRetention)})},
		// The erasure audit (leadbridge forget) is kept for as long as the
		// topic exists: it holds keys and times, no PII.
		{"erasures", t.Erasures, with(map[string]string{"cleanup.policy": "delete", "retention.ms": "-1"})},
		// enrich's per-lead state (exactly-once): one record per lead key,
		// co-partitioned with raw (same partition count).
		{"state", t.State, with(map[string]string{"cleanup.policy": "compact"})},
		// enrich's retries leave the main path here; a record lives until
		// it is retried (at most retry_for), so raw's retention is plenty.
		{"retry", t.Retry, with(map[string]string{"cleanup.policy": "delete", "retention.ms": ms(t.RawRetention)})},
	}
}

// Create creates one topic with configs and waits until every partition
// has a leader.
func Create(ctx context.Context, adm *kadm.Client, name string, partitions int32, rf int16, configs map[string]string) error {
	resp, err := adm.CreateTopic(ctx, partitions, rf, pointers(configs), name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return WaitLeaders(wctx, adm, name, partitions)
}

// Ensure creates missing topics and reports, on w, every setting of an
// existing topic that differs from its spec. It returns the drift count.
func Ensure(ctx context.Context, adm *kadm.Client, t Config, w io.Writer) (int, error) {
	drift := 0
	for _, s := range Specs(t) {
		err := Create(ctx, adm, s.Name, t.Partitions, t.ReplicationFactor, s.Configs)
		switch {
		case err == nil:
			fmt.Fprintf(w, "created %s topic %s (%d partitions, replication %d)\n", s.Role, s.Name, t.Partitions, t.ReplicationFactor)
			continue
		case errors.Is(err, kerr.TopicAlreadyExists):
		default:
			return drift, err
		}
		problems, err := Drift(ctx, adm, s, t)
		if err != nil {
			return drift, err
		}
		if len(problems) == 0 {
			fmt.Fprintf(w, "%s topic %s exists with the right settings\n", s.Role, s.Name)
		}
		for _, p := range problems {
			fmt.Fprintf(w, "drift: %s topic %s: %s\n", s.Role, s.Name, p)
		}
		drift += len(problems)
	}
	return drift, nil
}

// Drift lists how an existing topic differs from its spec.
func Drift(ctx context.Context, adm *kadm.Client, s Spec, t Config) ([]string, error) {
	var problems []string
	// A topic created a moment ago may not show its partitions in metadata
	// yet; wait for them (5 s at most) before calling that drift.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_ = WaitLeaders(wctx, adm, s.Name, 1)
	cancel()
	details, err := adm.ListTopics(ctx, s.Name)
	if err != nil {
		return nil, fmt.Errorf("describe topic %s: %w", s.Name, err)
	}
	if d, ok := details[s.Name]; ok {
		if n := int32(len(d.Partitions)); n < t.Partitions {
			problems = append(problems, fmt.Sprintf("%d partitions, want %d", n, t.Partitions))
		}
		if rf := int16(d.Partitions.NumReplicas()); rf < t.ReplicationFactor {
			problems = append(problems, fmt.Sprintf("replication factor %d, want %d", rf, t.ReplicationFactor))
		}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, s.Name)
	if err != nil {
		return nil, fmt.Errorf("describe configs of %s: %w", s.Name, err)
	}
	rc, err := rcs.On(s.Name, nil)
	if err != nil {
		return nil, fmt.Errorf("describe configs of %s: %w", s.Name, err)
	}
	have := map[string]string{}
	for _, c := range rc.Configs {
		have[c.Key] = c.MaybeValue()
	}
	for _, k := range slices.Sorted(maps.Keys(s.Configs)) {
		if have[k] != s.Configs[k] {
			problems = append(problems, fmt.Sprintf("%s=%s, want %s", k, have[k], s.Configs[k]))
		}
	}
	return problems, nil
}

// WaitLeaders polls metadata until topic has at least partitions partitions,
// each with a leader, or ctx ends.
func WaitLeaders(ctx context.Context, adm *kadm.Client, topic string, partitions int32) error {
	for {
		md, err := adm.Metadata(ctx, topic)
		if err == nil && Ready(md, topic, partitions) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s has no leader for every partition: %w", topic, cmp.Or(err, ctx.Err()))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Ready reports whether md shows topic with at least partitions partitions, each led.
func Ready(md kadm.Metadata, topic string, partitions int32) bool {
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil || int32(len(td.Partitions)) < partitions {
		return false
	}
	for _, p := range td.Partitions {
		if p.Err != nil || p.Leader < 0 {
			return false
		}
	}
	return true
}

func pointers(m map[string]string) map[string]*string {
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = &v
	}
	return out
}
