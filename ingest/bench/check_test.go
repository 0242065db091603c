package bench

import (
	"strings"
	"testing"
	"time"
)

func TestIngestCheck(t *testing.T) {
	valid := func() *Ingest {
		return &Ingest{Cfg: Config([]string{"127.0.0.1:9092"}, 12), Duration: time.Second, Warmup: 0, Concurrency: 1, Rounds: 1}
	}
	tests := map[string]struct {
		change    func(*Ingest)
		providers []string
		want      []string // in this order; none: valid
	}{
		"valid": {func(*Ingest) {}, []string{"aurora", "leadpro"}, nil},
		"every number": {func(b *Ingest) {
			b.Duration, b.Warmup, b.Concurrency, b.Rounds, b.BrokerPID = time.Millisecond, -1, 0, 0, -1
		}, []string{"aurora"}, []string{"--duration", "--warmup", "--concurrency", "--rounds", "--broker-pid"}},
		"partitions":    {func(b *Ingest) { b.Cfg.Topics.Partitions = 1001 }, []string{"aurora"}, []string{"--partitions must be between 1 and 1000"}},
		"no partitions": {func(b *Ingest) { b.Cfg.Topics.Partitions = 0 }, []string{"aurora"}, []string{"--partitions", "topics.partitions"}},
		"unknown":       {func(*Ingest) {}, []string{"aurora", "hubspot"}, []string{`--provider: "hubspot" is not aurora or leadpro`}},
		"no provider":   {func(*Ingest) {}, nil, []string{"--provider: name at least one"}},
		"no broker":     {func(b *Ingest) { b.Cfg.Kafka.Brokers = nil }, []string{"aurora"}, []string{"kafka.brokers"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := valid()
			tc.change(b)
			err := b.Check(tc.providers)
			if (err == nil) != (len(tc.want) == 0) {
				t.Fatalf("Check = %v, want %q", err, tc.want)
			}
			rest := ""
			if err != nil {
				rest = err.Error()
			}
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("Check = %v: lacks %q, or not in order", err, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
