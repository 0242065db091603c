package wire

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/topics"
)

// Tail prints topic's records to w from start until ctx ends, limit records
// were printed (0: no limit) or idle passed without one (0: never), as
// topics.Tail does. It is a direct consumer of every partition: no group,
// nothing committed, so it never takes records from enrich. A missing topic
// is an error at once, where a direct consumer would wait for it quietly
// forever.
func Tail(ctx context.Context, cfg config.Config, topic string, start kgo.Offset, limit int, idle time.Duration, w io.Writer, logger *zap.Logger) error {
	// read_committed, as downstream must read leads: an aborted attempt is
	// not shown as a duplicate.
	client, err := KafkaClient(cfg.Kafka, logger, nil, "tail", kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return err
	}
	defer client.Close()
	mctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	found, err := kadm.NewClient(client).ListTopics(mctx, topic)
	switch {
	case ctx.Err() != nil:
		return nil
	case err != nil:
		return fmt.Errorf("look up topic %s on %s: %w", topic, strings.Join(cfg.Kafka.Brokers, ","), err)
	case !found.Has(topic) || found[topic].Err != nil:
		return fmt.Errorf("topic %s does not exist on %s (raw, leads and dlq stand for %s, %s and %s)",
			topic, strings.Join(cfg.Kafka.Brokers, ","), cfg.Topics.Raw, cfg.Topics.Leads, cfg.Topics.DLQ)
	}
	return topics.Tail(ctx, client, w, limit, idle)
}
