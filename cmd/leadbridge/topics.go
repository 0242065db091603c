package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// topicSpec is one topic leadbridge owns and the settings it needs.
type topicSpec struct {
	role    string
	name    string
	configs map[string]string
}

// topicSpecs derives the three topics from the configuration. The leads topic
// is compacted (one record per lead key is what downstream reads); raw and
// DLQ are deleted by time.
func topicSpecs(c Config) []topicSpec {
	ms := func(d interface{ Milliseconds() int64 }) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	common := map[string]string{}
	if c.Topics.ReplicationFactor > 1 {
		common["min.insync.replicas"] = strconv.Itoa(min(2, int(c.Topics.ReplicationFactor)))
	}
	with := func(m map[string]string) map[string]string {
		for k, v := range common {
			m[k] = v
		}
		return m
	}
	return []topicSpec{
		{"raw", c.Topics.Raw, with(map[string]string{"cleanup.policy": "delete", "retention.ms": ms(c.Topics.RawRetention)})},
		{"leads", c.Topics.Leads, with(map[string]string{"cleanup.policy": "compact"})},
		{"dlq", c.Topics.DLQ, with(map[string]string{"cleanup.policy": "delete", "retention.ms": ms(c.Topics.DLQRetention)})},
	}
}

func runTopics(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "-h" && args[0] != "--help") {
		return usagef("usage: leadbridge topics create [--config FILE]")
	}
	fs := newFlags("topics create", "Create the raw, leads and DLQ topics with the settings leadbridge needs.\n"+
		"Existing topics are left alone; any setting that differs is reported as drift (exit 1 with --strict).", stdout)
	path := configFlag(fs, getenv)
	strict := fs.Bool("strict", false, "exit 1 when an existing topic's settings drifted")
	if args[0] != "create" {
		fs.Usage()
		return nil
	}
	if helped, err := parseFlags(fs, args[1:]); helped || err != nil {
		return err
	}
	cfg, err := loadValid(*path, getenv, need{})
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg.Log.Level)
	if err != nil {
		return err
	}
	opts, err := kafkaOpts(cfg.Kafka, logger, nil, "admin")
	if err != nil {
		return err
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer client.Close()
	drift, err := ensureTopics(ctx, kadm.NewClient(client), cfg, stdout, logger)
	if err != nil {
		return err
	}
	if drift > 0 && *strict {
		return fmt.Errorf("%d topic setting(s) drifted", drift)
	}
	return nil
}

// ensureTopics creates missing topics and reports, on w, every setting of an
// existing topic that differs from its spec. It returns the drift count.
func ensureTopics(ctx context.Context, adm *kadm.Client, cfg Config, w io.Writer, logger *zap.Logger) (int, error) {
	drift := 0
	for _, s := range topicSpecs(cfg) {
		configs := map[string]*string{}
		for k, v := range s.configs {
			configs[k] = &v
		}
		resp, err := adm.CreateTopic(ctx, cfg.Topics.Partitions, cfg.Topics.ReplicationFactor, configs, s.name)
		if err == nil {
			err = resp.Err
		}
		switch {
		case err == nil:
			fmt.Fprintf(w, "created %s topic %s (%d partitions, replication %d)\n", s.role, s.name, cfg.Topics.Partitions, cfg.Topics.ReplicationFactor)
			logger.Info("topic created", zap.String("topic", s.name))
			continue
		case errors.Is(err, kerr.TopicAlreadyExists):
		default:
			return drift, fmt.Errorf("create topic %s: %w", s.name, err)
		}
		problems, err := topicDrift(ctx, adm, s, cfg)
		if err != nil {
			return drift, err
		}
		if len(problems) == 0 {
			fmt.Fprintf(w, "%s topic %s exists with the right settings\n", s.role, s.name)
		}
		for _, p := range problems {
			fmt.Fprintf(w, "drift: %s topic %s: %s\n", s.role, s.name, p)
		}
		drift += len(problems)
	}
	return drift, nil
}

func topicDrift(ctx context.Context, adm *kadm.Client, s topicSpec, cfg Config) ([]string, error) {
	var problems []string
	// A topic created a moment ago may not show its partitions in metadata
	// yet; wait a little before calling that drift.
	var details kadm.TopicDetails
	for try := 0; ; try++ {
		var err error
		details, err = adm.ListTopics(ctx, s.name)
		if err != nil {
			return nil, fmt.Errorf("describe topic %s: %w", s.name, err)
		}
		if d, ok := details[s.name]; (ok && len(d.Partitions) > 0) || try == 20 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if d, ok := details[s.name]; ok {
		if n := int32(len(d.Partitions)); n < cfg.Topics.Partitions {
			problems = append(problems, fmt.Sprintf("%d partitions, want %d", n, cfg.Topics.Partitions))
		}
		if rf := int16(d.Partitions.NumReplicas()); rf < cfg.Topics.ReplicationFactor {
			problems = append(problems, fmt.Sprintf("replication factor %d, want %d", rf, cfg.Topics.ReplicationFactor))
		}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, s.name)
	if err != nil {
		return nil, fmt.Errorf("describe configs of %s: %w", s.name, err)
	}
	rc, err := rcs.On(s.name, nil)
	if err != nil {
		return nil, fmt.Errorf("describe configs of %s: %w", s.name, err)
	}
	have := map[string]string{}
	for _, c := range rc.Configs {
		have[c.Key] = c.MaybeValue()
	}
	keys := make([]string, 0, len(s.configs))
	for k := range s.configs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if have[k] != s.configs[k] {
			problems = append(problems, fmt.Sprintf("%s=%s, want %s", k, have[k], s.configs[k]))
		}
	}
	return problems, nil
}
