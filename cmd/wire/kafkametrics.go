package wire

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// kafkaMetrics is kprom for a role whose client can be replaced while the
// old one is still closing: enrich's restart builds a new client with the
// same options and, when leaving the group waits on a broker that is gone,
// does not wait for the old one's Close. kprom registers its collectors when
// a client starts and unregisters them when it closes, so the new client's
// registration panicked ("duplicate metrics collector registration
// attempted") and took the member down. Each client gets its own
// kprom.Metrics: a new client's replaces the last one's collectors, and a
// replaced client that closes late unregisters nothing. The hooks of a
// replaced client still running count into the newest client's metrics
// (same client id, the same series).
type kafkaMetrics struct {
	reg *prometheus.Registry

	mu     sync.Mutex  // OnNewClient and OnClientClosed
	client *kgo.Client // the client whose collectors are registered
	cur    atomic.Pointer[kprom.Metrics]
}

func newKafkaMetrics(reg *prometheus.Registry) *kafkaMetrics { return &kafkaMetrics{reg: reg} }

var (
	_ kgo.HookNewClient           = (*kafkaMetrics)(nil)
	_ kgo.HookClientClosed        = (*kafkaMetrics)(nil)
	_ kgo.HookBrokerConnect       = (*kafkaMetrics)(nil)
	_ kgo.HookBrokerDisconnect    = (*kafkaMetrics)(nil)
	_ kgo.HookBrokerWrite         = (*kafkaMetrics)(nil)
	_ kgo.HookBrokerRead          = (*kafkaMetrics)(nil)
	_ kgo.HookBrokerE2E           = (*kafkaMetrics)(nil)
	_ kgo.HookBrokerThrottle      = (*kafkaMetrics)(nil)
	_ kgo.HookProduceBatchWritten = (*kafkaMetrics)(nil)
	_ kgo.HookFetchBatchRead      = (*kafkaMetrics)(nil)
)

func (k *kafkaMetrics) OnNewClient(cl *kgo.Client) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if old := k.cur.Load(); old != nil && k.client != nil {
		old.OnClientClosed(k.client) // unregisters the replaced client's collectors
	}
	m := kprom.NewMetrics("leadbridge_kafka", kprom.Registry(k.reg), kprom.WithClientLabel())
	m.OnNewClient(cl)
	k.client = cl
	k.cur.Store(m)
}

func (k *kafkaMetrics) OnClientClosed(cl *kgo.Client) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if cl != k.client {
		return // replaced already: its collectors are gone, the newest client's stay
	}
	k.cur.Load().OnClientClosed(cl)
	k.client = nil
}

func (k *kafkaMetrics) OnBrokerConnect(meta kgo.BrokerMetadata, d time.Duration, c net.Conn, err error) {
	if m := k.cur.Load(); m != nil {
		m.OnBrokerConnect(meta, d, c, err)
	}
}

func (k *kafkaMetrics) OnBrokerDisconnect(meta kgo.BrokerMetadata, c net.Conn) {
	if m := k.cur.Load(); m != nil {
		m.OnBrokerDisconnect(meta, c)
	}
}

func (k *kafkaMetrics) OnBrokerWrite(meta kgo.BrokerMetadata, key int16, n int, wait, took time.Duration, err error) {
	if m := k.cur.Load(); m != nil {
		m.OnBrokerWrite(meta, key, n, wait, took, err)
	}
}

func (k *kafkaMetrics) OnBrokerRead(meta kgo.BrokerMetadata, key int16, n int, wait, took time.Duration, err error) {
	if m := k.cur.Load(); m != nil {
		m.OnBrokerRead(meta, key, n, wait, took, err)
	}
}

func (k *kafkaMetrics) OnBrokerE2E(meta kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if m := k.cur.Load(); m != nil {
		m.OnBrokerE2E(meta, key, e2e)
	}
}

func (k *kafkaMetrics) OnBrokerThrottle(meta kgo.BrokerMetadata, interval time.Duration, after bool) {
	if m := k.cur.Load(); m != nil {
		m.OnBrokerThrottle(meta, interval, after)
	}
}

func (k *kafkaMetrics) OnProduceBatchWritten(meta kgo.BrokerMetadata, topic string, p int32, bm kgo.ProduceBatchMetrics) {
	if m := k.cur.Load(); m != nil {
		m.OnProduceBatchWritten(meta, topic, p, bm)
	}
}

func (k *kafkaMetrics) OnFetchBatchRead(meta kgo.BrokerMetadata, topic string, p int32, fm kgo.FetchBatchMetrics) {
	if m := k.cur.Load(); m != nil {
		m.OnFetchBatchRead(meta, topic, p, fm)
	}
}
