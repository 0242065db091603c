package operate_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/enrich/operate"
	"github.com/leadbridge/leadbridge/schema"
)

type marker struct{ topic string }

func (m marker) Topic() string { return m.topic }
func (m marker) Value(erased bool) []byte {
	b, _ := json.Marshal(map[string]bool{"erased": erased})
	return b
}

func TestForgetAndUnforget(t *testing.T) {
	b := kafkatest.RequireReal(t)
	leads := kafkatest.Topic(t, b, "forget-leads", 3, nil)
	erasures := kafkatest.Topic(t, b, "forget-erasures", 3, nil)
	state := kafkatest.Topic(t, b, "forget-state", 3, nil)
	at := time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)
	opts := operate.ForgetOptions{
		Kafka:  []kgo.Opt{kgo.SeedBrokers(b.Seeds...)},
		Topics: operate.Topics{Leads: leads, Erasures: erasures},
		State:  marker{state},
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

	tomb := readAll(t, b, leads)
	if len(tomb) != 2 {
		t.Fatalf("%d records on leads, want 2 tombstones", len(tomb))
	}
	for _, r := range tomb {
		if r.Value != nil || schema.Header(r, schema.HeaderErasedAt) != "2026-11-30T05:00:00Z" {
			t.Errorf("%s: value %q, headers %v", r.Key, r.Value, r.Headers)
		}
	}
	st := readAll(t, b, state)
	if len(st) != 2 || string(st[0].Value) != `{"erased":true}` {
		t.Fatalf("state records %d", len(st))
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
	if n := len(readAll(t, b, leads)); n != 2 {
		t.Errorf("unforget wrote to leads (%d records)", n)
	}
	st = readAll(t, b, state)
	var last *kgo.Record // the key's newest state record (order holds per partition)
	for _, r := range st {
		if string(r.Key) == "aurora:t1:L1" && (last == nil || r.Offset > last.Offset) {
			last = r
		}
	}
	if len(st) != 3 || last == nil || string(last.Value) != `{"erased":false}` {
		t.Errorf("unforget state: %d records, newest of the key %v", len(st), last)
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

func TestLeadStateMarker(t *testing.T) {
	m := operate.LeadStateMarker{StateTopic: "leads.state"}
	for _, erased := range []bool{true, false} {
		s, err := schema.DecodeLeadState(m.Value(erased))
		if err != nil || s.Erased != erased || m.Topic() != "leads.state" {
			t.Errorf("erased %v: %+v %v", erased, s, err)
		}
	}
}

func TestForgetOnlyBadKeysWritesNothing(t *testing.T) {
	rep, err := operate.Forget(t.Context(), []string{"nope", "aurora:t1"}, operate.ForgetOptions{})
	if err != nil || len(rep.Problems) != 2 || len(rep.Done) != 0 {
		t.Fatalf("%v %+v", err, rep)
	}
}
