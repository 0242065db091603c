package operate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/enrich/operate"
	"github.com/leadbridge/leadbridge/schema"
)

// produce writes records synchronously and fails the test on any error.
func produce(t *testing.T, cl *kgo.Client, rs ...*kgo.Record) {
	t.Helper()
	if err := cl.ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func dlqRecord(topic, key, reason string) *kgo.Record {
	ev := schema.Event{ID: "id-" + key + "-" + reason, Source: "/aurora/tenants/t1", Type: schema.AuroraTypePrefix + "lead_changed",
		Time: time.Now(), PartitionKey: key, Data: []byte(`{"event":"lead_changed","tenant_id":"t1","attributes":{"lead_id":"x"}}`)}
	r := ev.Record()
	r.Topic = topic
	r.Headers = append(r.Headers,
		kgo.RecordHeader{Key: schema.HeaderDLQReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: schema.HeaderDLQAttempts, Value: []byte("3")})
	return r
}

func TestStatus(t *testing.T) {
	b := kafkatest.RequireReal(t)
	raw := kafkatest.Topic(t, b, "status-raw", 12, nil)
	leads := kafkatest.Topic(t, b, "status-leads", 3, nil)
	dlq := kafkatest.Topic(t, b, "status-dlq", 3, nil)
	group := "status-group-" + raw
	cl := kafkatest.Client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))

	// 10 records per raw partition, written an hour ago.
	old := time.Now().Add(-time.Hour)
	var rs []*kgo.Record
	for p := range int32(12) {
		for i := range 10 {
			rs = append(rs, &kgo.Record{Topic: raw, Partition: p, Key: fmt.Appendf(nil, "k%d-%d", p, i), Value: []byte(`{}`), Timestamp: old})
		}
	}
	produce(t, cl, rs...)
	// The group committed 4 on even partitions, everything on odd ones: lag 6 x 6.
	adm := kadm.NewClient(cl)
	offs := kadm.Offsets{}
	for p := range int32(12) {
		at := int64(10)
		if p%2 == 0 {
			at = 4
		}
		offs.AddOffset(raw, p, at, -1)
	}
	if err := adm.CommitAllOffsets(t.Context(), group, offs); err != nil {
		t.Fatal(err)
	}
	newest := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	produce(t, cl,
		&kgo.Record{Topic: leads, Partition: 0, Key: []byte("a"), Value: []byte(`{}`), Timestamp: newest.Add(-time.Minute)},
		&kgo.Record{Topic: leads, Partition: 2, Key: []byte("b"), Value: []byte(`{}`), Timestamp: newest})
	var dl []*kgo.Record
	for i := range 8 {
		reason := "not_found"
		if i >= 5 {
			reason = "unauthorized"
		}
		r := dlqRecord(dlq, fmt.Sprintf("aurora:t1:l%d", i), reason)
		r.Partition = int32(i % 3)
		dl = append(dl, r)
	}
	produce(t, cl, dl...)

	// A live member, so that the group has one (it commits nothing).
	member := kafkatest.Client(t, b, kgo.ConsumerGroup(group), kgo.ConsumeTopics(raw), kgo.DisableAutoCommit(), kgo.ClientID("member-1"))
	go func() {
		for member.Context().Err() == nil {
			member.PollFetches(member.Context())
		}
	}()

	opts := operate.StatusOptions{Kafka: []kgo.Opt{kgo.SeedBrokers(b.Seeds...)}, Group: group,
		Topics: operate.Topics{Raw: raw, Leads: leads, DLQ: dlq}, MaxLag: 36}
	var st operate.Status
	deadline := time.Now().Add(60 * time.Second)
	for {
		var err error
		st, err = operate.ReadStatus(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Members) == 1 && len(st.Members[0].Partitions) == 12 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the member never showed with its 12 partitions: %+v", st.Members)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("status of a 12-partition raw topic took %d ms", st.TookMS)

	if st.Members[0].ClientID != "member-1" {
		t.Errorf("member %+v", st.Members[0])
	}
	if len(st.Partitions) != 12 || st.Lag != 36 || !st.Healthy {
		t.Fatalf("lag %d over %d partitions, healthy %v", st.Lag, len(st.Partitions), st.Healthy)
	}
	for _, p := range st.Partitions {
		wantLag, wantCommitted := int64(0), int64(10)
		if p.Partition%2 == 0 {
			wantLag, wantCommitted = 6, 4
		}
		if p.Lag != wantLag || p.Committed != wantCommitted || p.HighWatermark != 10 {
			t.Errorf("partition %+v", p)
		}
		switch {
		case wantLag > 0 && p.OldestUncommittedAgeMS == nil:
			t.Errorf("partition %d: no age of its oldest uncommitted record", p.Partition)
		case wantLag > 0 && *p.OldestUncommittedAgeMS < (59*time.Minute).Milliseconds():
			t.Errorf("partition %d: age %d ms, the record is an hour old", p.Partition, *p.OldestUncommittedAgeMS)
		case wantLag == 0 && p.OldestUncommittedAgeMS != nil:
			t.Errorf("partition %d: an age without lag", p.Partition)
		}
	}
	if len(st.Dead) != 1 || st.Dead[0].Records != 8 || st.Dead[0].ByReason["not_found"] != 5 || st.Dead[0].ByReason["unauthorized"] != 3 {
		t.Errorf("dead letters %+v", st.Dead)
	}
	if st.NewestLead == nil || !st.NewestLead.Equal(newest) {
		t.Errorf("newest lead %v, want %v", st.NewestLead, newest)
	}

	// Unhealthy past --max-lag; the DLQ scan is bounded.
	opts.MaxLag, opts.DLQScan = 35, 3
	st, err := operate.ReadStatus(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Healthy || st.Dead[0].Scanned != 3 || st.Dead[0].Records != 8 {
		t.Errorf("max lag 35: healthy %v; scan 3: %+v", st.Healthy, st.Dead[0])
	}
	var text, js bytes.Buffer
	st.WriteText(&text)
	if !strings.Contains(text.String(), "UNHEALTHY: lag 36 exceeds 35") || !strings.Contains(text.String(), "member-1") {
		t.Errorf("text:\n%s", text.String())
	}
	if err := st.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back["lag"] != float64(36) {
		t.Errorf("json %v: %s", err, js.String())
	}
}

func TestStatusUnknownGroupIsEmpty(t *testing.T) {
	b := kafkatest.RequireReal(t)
	raw := kafkatest.Topic(t, b, "status-raw", 2, nil)
	leads := kafkatest.Topic(t, b, "status-leads", 1, nil)
	dlq := kafkatest.Topic(t, b, "status-dlq", 1, nil)
	cl := kafkatest.Client(t, b)
	produce(t, cl, &kgo.Record{Topic: raw, Key: []byte("k"), Value: []byte(`{}`)})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	st, err := operate.ReadStatus(ctx, operate.StatusOptions{Kafka: []kgo.Opt{kgo.SeedBrokers(b.Seeds...)}, Group: "nobody-" + raw,
		Topics: operate.Topics{Raw: raw, Leads: leads, DLQ: dlq}, MaxLag: 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("status took %s", time.Since(t0))
	// Nothing committed: every record is lag.
	if st.Lag != 1 || st.Healthy || len(st.Members) != 0 || st.NewestLead != nil {
		t.Errorf("%+v", st)
	}
}

// A topic that does not exist is named, with what to run: the brokers'
// UNKNOWN_TOPIC_OR_PARTITION names none, and status used to print it twice
// ("list offsets: UNKNOWN_TOPIC_OR_PARTITION ...; UNKNOWN_TOPIC_OR_PARTITION ...").
func TestStatusNamesAMissingTopic(t *testing.T) {
	b := kafkatest.RequireReal(t)
	raw := kafkatest.Topic(t, b, "status-raw", 2, nil)
	leads := kafkatest.Topic(t, b, "status-leads", 1, nil)
	missing := "status-dlq-missing-" + raw
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err := operate.ReadStatus(ctx, operate.StatusOptions{Kafka: []kgo.Opt{kgo.SeedBrokers(b.Seeds...)}, Group: "nobody-" + raw,
		Topics: operate.Topics{Raw: raw, Leads: leads, DLQ: missing}})
	if err == nil || !strings.Contains(err.Error(), "topic "+missing+" does not exist (run leadbridge topics create)") ||
		strings.Count(err.Error(), missing) != 1 {
		t.Fatalf("want the missing topic named once: %v", err)
	}
}

// enrich writes the DLQ in transactions: one record and one marker per
// transaction and partition. --dlq-scan N still counts the N newest
// records, not the records among the N newest offsets (it used to count 1
// of 3 here, and 0 with --dlq-scan 1: the newest offset is a marker).
func TestStatusScansTheNewestRecordsOfATransactionalDLQ(t *testing.T) {
	b := kafkatest.RequireReal(t)
	raw := kafkatest.Topic(t, b, "status-raw", 1, nil)
	leads := kafkatest.Topic(t, b, "status-leads", 1, nil)
	dlq := kafkatest.Topic(t, b, "status-dlq", 1, nil)
	cl := kafkatest.Client(t, b, kgo.TransactionalID("status-txn-"+dlq), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i, reason := range []string{"not_found", "not_found", "not_found", "unauthorized", "permanent", "permanent"} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		produce(t, cl, dlqRecord(dlq, fmt.Sprintf("aurora:t1:l%d", i), reason))
		if err := cl.EndTransaction(t.Context(), kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	opts := operate.StatusOptions{Kafka: []kgo.Opt{kgo.SeedBrokers(b.Seeds...)}, Group: "nobody-" + raw,
		Topics: operate.Topics{Raw: raw, Leads: leads, DLQ: dlq}}
	for scan, want := range map[int]map[string]int{
		1:   {"permanent": 1},
		3:   {"permanent": 2, "unauthorized": 1},
		100: {"permanent": 2, "unauthorized": 1, "not_found": 3},
	} {
		opts.DLQScan = scan
		st, err := operate.ReadStatus(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		d := st.Dead[0]
		if d.Records != 12 || d.Scanned != min(scan, 6) || fmt.Sprint(d.ByReason) != fmt.Sprint(want) {
			t.Errorf("--dlq-scan %d: %d records, scanned %d, %v; want 12 (with markers), %d, %v", scan, d.Records, d.Scanned, d.ByReason, min(scan, 6), want)
		}
	}
}
