package enrich

import (
	"context"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// batchLimits are the topics' max.message.bytes, for kgo's
// ProducerBatchMaxBytesFn. kgo batches a partition's records up to 1,000,012
// bytes whatever the topic allows, and the broker refuses a batch over the
// topic's limit whole, so one record too large for the topic would take
// the records batched with it down too (an innocent lead dead-lettered).
// Bounded by the topic's limit, kgo never builds such a batch and fails
// only the record that cannot fit alone ("If a single record encodes
// larger than this number ..., it will not be written").
type batchLimits struct {
	mu sync.RWMutex
	by map[string]int32
}

// max is kgo's batch bound for topic: its max.message.bytes when known and
// lower than kgo's default.
func (l *batchLimits) max(topic string) int32 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if v, ok := l.by[topic]; ok && v < maxBatchBytes {
		return v
	}
	return maxBatchBytes
}

// load reads the max.message.bytes of the topics the member writes. kgo
// reads the bound once per partition, on the first produce to it, so this
// runs before any. A topic it cannot describe keeps kgo's default (its
// refusals still reach the DLQ, through refusals).
func (e *Enricher) loadBatchLimits(ctx context.Context, cl *kgo.Client) {
	topics := []string{e.cfg.LeadsTopic, e.cfg.DLQTopic}
	if !e.cfg.AtLeastOnce {
		topics = append(topics, e.cfg.StateTopic, e.cfg.RetryTopic)
	}
	rcs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		e.log.Warn("could not read the topics' max.message.bytes; batches are bounded by kgo's default", zap.Error(err))
		return
	}
	by := map[string]int32{}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key != "max.message.bytes" || c.Value == nil {
				continue
			}
			if v, err := strconv.ParseInt(*c.Value, 10, 32); err == nil && v > 0 {
				by[rc.Name] = int32(v)
			}
		}
	}
	e.limits.mu.Lock()
	e.limits.by = by
	e.limits.mu.Unlock()
}
