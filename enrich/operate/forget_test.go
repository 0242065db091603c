package operate_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/enrich/operate"
	"github.com/leadbridge/leadbridge/schema"
)

// Forget writes, per key, an erasure event on raw (where the key's
// webhooks go, so enrich meets it in order) and an audit record; nothing on
// leads or the state topic, whose one writer is enrich. Unforget writes the
// matching unerase event.
func TestForgetAndUnforget(t *testing.T) {
	b := kafkatest.RequireReal(t)
	raw := kafkatest.Topic(t, b, "forget-raw", 3, nil)
	leads := kafkatest.Topic(t, b, "forget-leads", 3, nil)
	erasures := kafkatest.Topic(t, b, "forget-erasures", 3, nil)
	at := time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)
	opts := operate.ForgetOptions{
		Kafka:  []kgo.Opt{kgo.SeedBrokers(b.Seeds...)},
		Topics: operate.Topics{Raw: raw, Leads: leads, Erasures: erasures},
		Known:  func(provider, owner string) bool { return owner == "t1" || owner == "9999" },
		Now:    func() time.Time { return at },
	}
	keys, err := operate.ReadKeys(strings.NewReader("# erasure request 42\naurora:t1:L1\n\n  leadpro:9999:77  \njane.doe@example.com\naurora:t-other:L2\naurora:t1:L1\n"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := operate.Forget(t.Context(), keys, opts)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.WriteText(&out)
	text := out.String()
	if len(rep.Done) != 2 || len(rep.Problems) != 2 {
		t.Fatalf("done %d, problems %d:\n%s", len(rep.Done), len(rep.Problems), text)
	}
	for _, want := range []string{"forget aurora:t1:L1 2026-11-30T05:00:00Z", "forget leadpro:9999:77 ", "failed key 3: malformed", "failed key 4 (aurora:t-other:L2): unknown tenant t-other"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "jane.doe") {
		t.Errorf("a malformed key (possibly PII) was echoed:\n%s", text)
	}

	// The partition a webhook with the same key gets, from a plain client
	// (the default partitioner, as ingest's).
	webhookPartition := map[string]int32{}
	cl := kafkatest.Client(t, b, kgo.DefaultProduceTopic(raw))
	for _, k := range []string{"aurora:t1:L1", "leadpro:9999:77"} {
		res := cl.ProduceSync(t.Context(), &kgo.Record{Key: []byte(k), Value: []byte(`{}`)})
		if err := res.FirstErr(); err != nil {
			t.Fatal(err)
		}
		webhookPartition[k] = res[0].Record.Partition
	}
	events := func() []schema.Event {
		var evs []schema.Event
		for _, r := range readAll(t, b, raw) {
			if schema.Header(r, schema.HeaderType) == "" {
				continue // the webhook stand-ins
			}
			ev, err := schema.DecodeRecord(r)
			if err != nil {
				t.Fatalf("an erasure event is not a CloudEvent: %v", err)
			}
			if p := webhookPartition[string(r.Key)]; p != r.Partition || ev.PartitionKey != string(r.Key) {
				t.Errorf("%s: erasure event on partition %d, its webhooks on %d", r.Key, r.Partition, p)
			}
			evs = append(evs, ev)
		}
		return evs
	}
	evs := events()
	if len(evs) != 2 {
		t.Fatalf("%d erasure events on raw, want 2", len(evs))
	}
	for _, ev := range evs {
		var d map[string]any
		if ev.Type != schema.EraseEventType || ev.Source != schema.ForgetSource || !ev.Time.Equal(at) ||
			json.Unmarshal(ev.Data, &d) != nil || d["key"] != ev.PartitionKey || d["action"] != "forget" || len(d) != 3 {
			t.Errorf("erasure event %+v", ev)
		}
	}
	if n := len(readAll(t, b, leads)); n != 0 {
		t.Errorf("forget wrote %d records on leads: enrich is their one writer", n)
	}
	audit := readAll(t, b, erasures)
	if len(audit) != 2 {
		t.Fatalf("%d audit records", len(audit))
	}
	for _, r := range audit {
		var e map[string]any
		if err := json.Unmarshal(r.Value, &e); err != nil || e["key"] != string(r.Key) || e["action"] != "forget" || e["time"] != "2026-11-30T05:00:00Z" || len(e) != 3 {
			t.Errorf("audit %s: %v %s", r.Key, err, r.Value)
		}
	}

	opts.Unforget = true
	rep, err = operate.Forget(t.Context(), []string{"aurora:t1:L1"}, opts)
	if err != nil || len(rep.Done) != 1 {
		t.Fatalf("unforget: %v %+v", err, rep)
	}
	evs = events()
	if len(evs) != 3 || !slices.ContainsFunc(evs, func(ev schema.Event) bool {
		return ev.Type == schema.UneraseEventType && ev.PartitionKey == "aurora:t1:L1"
	}) {
		t.Errorf("unforget: %d erasure events, want the unerase event of aurora:t1:L1", len(evs))
	}
	audit = readAll(t, b, erasures)
	if len(audit) != 3 || !anyContains(audit, `"unforget"`) {
		t.Errorf("unforget audit missing")
	}
}

func anyContains(rs []*kgo.Record, s string) bool {
	for _, r := range rs {
		if bytes.Contains(r.Value, []byte(s)) {
			return true
		}
	}
	return false
}

func TestForgetOnlyBadKeysWritesNothing(t *testing.T) {
	rep, err := operate.Forget(t.Context(), []string{"nope", "aurora:t1"}, operate.ForgetOptions{})
	if err != nil || len(rep.Problems) != 2 || len(rep.Done) != 0 {
		t.Fatalf("%v %+v", err, rep)
	}
}

// A missing topic is named: the erasure is not written, and the error says
// which topic to create (it used to say only UNKNOWN_TOPIC_OR_PARTITION).
func TestForgetNamesAMissingTopic(t *testing.T) {
	b := kafkatest.RequireReal(t)
	raw := kafkatest.Topic(t, b, "forget-raw", 3, nil)
	missing := "forget-erasures-missing-" + raw
	_, err := operate.Forget(t.Context(), []string{"aurora:t1:L1"}, operate.ForgetOptions{
		Kafka:  []kgo.Opt{kgo.SeedBrokers(b.Seeds...)},
		Topics: operate.Topics{Raw: raw, Erasures: missing},
		Known:  func(string, string) bool { return true },
	})
	if err == nil || !strings.Contains(err.Error(), "topic "+missing+" does not exist (run leadbridge topics create)") {
		t.Fatalf("want the missing topic named: %v", err)
	}
}
