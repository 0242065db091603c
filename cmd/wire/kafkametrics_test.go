package wire

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/cmd/config"
)

// enrich's restart builds a new client from the same options while the old
// one may still be closing. The second client's kprom registration
// panicked ("duplicate metrics collector registration attempted", seen
// killing a member in the 3-broker test); now it replaces the first's
// collectors, the old client's late Close leaves the new client's metrics
// registered, and the role's metrics keep counting.
func TestKafkaMetricsOutliveAClientReplacedBeforeItClosed(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reg := prometheus.NewRegistry()
	opts, err := KafkaOpts(config.Kafka{Brokers: c.ListenAddrs()}, nil, reg, "enrich")
	if err != nil {
		t.Fatal(err)
	}
	old, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	var replaced *kgo.Client
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("a second client with the same options panicked: %v", p)
			}
		}()
		replaced, err = kgo.NewClient(opts...)
	}()
	if err != nil {
		t.Fatal(err)
	}
	old.Close() // the replaced client closes late
	if err := replaced.ProduceSync(t.Context(), &kgo.Record{Topic: "t", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// kgo calls the batch-written hook beside the record's promise, not
	// before it: ProduceSync can return before the counter moves.
	for deadline := time.Now().Add(10 * time.Second); produced(t, reg) <= 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("leadbridge_kafka_produce_bytes_total stayed 0 after the old client closed, want more than 0")
		}
	}
	replaced.Close()
	third, err := kgo.NewClient(opts...) // after a clean close, registers again
	if err != nil {
		t.Fatal(err)
	}
	third.Close()
}

func produced(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range fams {
		if f.GetName() == "leadbridge_kafka_produce_bytes_total" {
			for _, m := range f.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}
