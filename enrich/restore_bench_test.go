package enrich

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/schema"
)

// BenchmarkRestoreMillion measures restoring one state partition holding
// 1,000,000 lead keys from a real broker: the time per restore and the heap
// it keeps per key. The README's restore figure comes from it:
//
//	go test -run '^$' -bench RestoreMillion -benchtime 1x ./enrich/
func BenchmarkRestoreMillion(b *testing.B) {
	const keys = 1_000_000
	br := kafkatest.Find(b)
	compact := "compact"
	topic := kafkatest.Topic(b, br, "state", 1, map[string]*string{"cleanup.policy": &compact})
	p := kafkatest.Client(b, br, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(20*time.Millisecond),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(200_000))
	ctx := context.Background()
	h := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	for i := range keys {
		v := schema.EncodeLeadState(schema.LeadState{UpdatedAt: time.Unix(1_700_000_000+int64(i), 0), Hash: h})
		p.Produce(ctx, &kgo.Record{Key: fmt.Appendf(nil, "aurora:3fa85f64-5717-4562-b3fc-2c963f66afa6:%d", i), Value: v}, nil)
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	conn := []kgo.Opt{kgo.SeedBrokers(br.Seeds...)}
	b.ResetTimer()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		store, err := restoreState(ctx, conn, topic, 0)
		took := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if store.len() != keys {
			b.Fatalf("restored %d keys, want %d", store.len(), keys)
		}
		b.ReportMetric(took.Seconds(), "s/restore")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/keys, "heap-B/key")
		runtime.KeepAlive(store)
	}
}
