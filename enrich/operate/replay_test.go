package operate_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/enrich/operate"
	"github.com/leadbridge/leadbridge/schema"
)

func rawRecord(topic, tenant, lead, value string, at time.Time) *kgo.Record {
	ev := schema.Event{ID: "ev-" + lead + "-" + value, Source: schema.AuroraSource(tenant), Type: schema.AuroraTypePrefix + "lead_changed",
		Time: at, Subject: lead, PartitionKey: schema.AuroraKey(tenant, lead), Data: []byte(`{"v":"` + value + `"}`)}
	r := ev.Record()
	r.Topic, r.Timestamp = topic, at
	return r
}

func TestReplayNewestRecordPerKey(t *testing.T) {
	b := kafkatest.RequireReal(t)
	raw := kafkatest.Topic(t, b, "replay-raw", 3, nil)
	now := time.Now().Truncate(time.Millisecond)
	h := func(d float64) time.Time { return now.Add(time.Duration(d * float64(time.Hour))) }
	produce(t, kafkatest.Client(t, b),
		rawRecord(raw, "t1", "OLD", "before-the-range", h(-6)),
		rawRecord(raw, "t1", "A", "a1", h(-3)),
		rawRecord(raw, "t1", "B", "b1", h(-3)),
		rawRecord(raw, "t1", "B", "b2", h(-2)),
		rawRecord(raw, "t1", "C", "c1", h(-3)),
		rawRecord(raw, "t1", "C", "c2", h(-0.2)), // after --until: C is up to date
		rawRecord(raw, "t2", "D", "d1", h(-2)),
	)
	opts := operate.ReplayOptions{Kafka: []kgo.Opt{kgo.SeedBrokers(b.Seeds...)}, Topics: operate.Topics{Raw: raw},
		Since: h(-4), Until: h(-1), Source: schema.AuroraSource("t1"), DryRun: true}
	rep, err := operate.Replay(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.WriteText(&out)
	if rep.Scanned != 6 || rep.InRange != 4 || rep.Keys != 3 || rep.Replayed != 2 || rep.Superseded != 1 || !strings.Contains(out.String(), "dry run") {
		t.Fatalf("dry run %+v\n%s", rep, out.String())
	}
	if n := len(readAll(t, b, raw)); n != 7 {
		t.Fatalf("dry run wrote: %d records", n)
	}

	opts.DryRun = false
	if rep, err = operate.Replay(t.Context(), opts); err != nil || rep.Replayed != 2 {
		t.Fatalf("replay: %v %+v", err, rep)
	}
	var copies []string
	for _, r := range readAll(t, b, raw) {
		if schema.Header(r, schema.HeaderReplay) != "" {
			copies = append(copies, string(r.Value))
			if _, err := schema.DecodeRecord(r); err != nil {
				t.Errorf("a replayed record is not a CloudEvent: %v", err)
			}
		}
	}
	if len(copies) != 2 || !strings.Contains(strings.Join(copies, " "), `"a1"`) || !strings.Contains(strings.Join(copies, " "), `"b2"`) {
		t.Fatalf("replayed values %v, want a1 and b2 (each key's newest)", copies)
	}

	// The copies carry the replay header: a wider replay does not copy them again.
	opts.Until = time.Time{}
	if rep, err = operate.Replay(t.Context(), opts); err != nil || rep.Replayed != 3 || rep.Keys != 3 {
		t.Fatalf("second replay: %v %+v", err, rep)
	}
}
