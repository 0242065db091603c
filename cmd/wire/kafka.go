package wire

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/cmd/config"
)

// KafkaOpts are the franz-go options every leadbridge client shares: seeds,
// the client id leadbridge-<role>, TLS, SASL, a zap logger at warn level,
// the tracing hook when tracing is on, and kprom metrics in reg (nil: none).
func KafkaOpts(c config.Kafka, logger *zap.Logger, reg *prometheus.Registry, role string) ([]kgo.Opt, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID("leadbridge-" + role),
		kgo.WithLogger(kzap.New(logger.Named("kgo"), kzap.Level(kgo.LogLevelWarn))),
	}
	if tracingOn.Load() {
		opts = append(opts, kafkaTracing())
	}
	if reg != nil {
		opts = append(opts, kgo.WithHooks(newKafkaMetrics(reg)))
	}
	if c.TLS.Enabled {
		tc, err := c.TLS.Config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch s := c.SASL; s.Mechanism {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: s.Username, Pass: s.Password.Reveal()}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.Username, Pass: s.Password.Reveal()}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.Username, Pass: s.Password.Reveal()}.AsSha512Mechanism()))
	}
	return opts, nil
}

// KafkaClient is a client with KafkaOpts plus extra options.
func KafkaClient(c config.Kafka, logger *zap.Logger, reg *prometheus.Registry, role string, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := KafkaOpts(c, logger, reg, role)
	if err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return client, nil
}

// TopicProbe answers readiness: the broker answers and the topic exists.
// Results are cached for a second so probes cannot hammer the cluster.
type TopicProbe struct {
	client func() *kgo.Client
	topic  string

	mu      sync.Mutex
	checked time.Time
	last    error
}

// NewTopicProbe probes topic through client.
func NewTopicProbe(client *kgo.Client, topic string) *TopicProbe {
	return NewTopicProbeOf(func() *kgo.Client { return client }, topic)
}

// NewTopicProbeOf probes topic through the client that client returns at
// each check (enrich replaces its client when it restarts).
func NewTopicProbeOf(client func() *kgo.Client, topic string) *TopicProbe {
	return &TopicProbe{client: client, topic: topic}
}

// Ready reports why the service cannot work yet, or nil. Safe for concurrent use.
func (p *TopicProbe) Ready(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.checked) < time.Second {
		return p.last
	}
	p.checked = time.Now()
	topics, err := kadm.NewClient(p.client()).ListTopics(ctx, p.topic)
	switch {
	case err != nil:
		p.last = fmt.Errorf("list topics: %w", err)
	case !topics.Has(p.topic) || topics[p.topic].Err != nil:
		p.last = fmt.Errorf("topic %s does not exist (run leadbridge topics create)", p.topic)
	default:
		p.last = nil
	}
	return p.last
}
