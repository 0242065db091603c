package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/schema"
)

var tailTime = time.Date(2026, 5, 1, 10, 0, 0, 123e6, time.UTC)

func TestTailUsage(t *testing.T) {
	tests := map[string][]string{
		"no topic":            {},
		"two topics":          {"a", "b"},
		"both starts":         {"--from-end", "--from-beginning", "a"},
		"negative n":          {"-n", "-1", "a"},
		"negative timeout":    {"--timeout", "-1s", "a"},
		"unknown flag":        {"--follow", "a"},
		"invalid topic name":  {"a/b"},
		"bad config variable": {"--config", "testdata/leadbridge.yaml", "a"}, // ${AURORA_API_TOKEN} unset
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), append([]string{"leadbridge", "tail"}, args...), func(string) string { return "" }, &out)
			if _, ok := errors.AsType[usageError](err); !ok {
				t.Fatalf("want a usage error (exit 2), got %v", err)
			}
		})
	}
}

func TestTailHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"leadbridge", "tail", "--help"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"usage: leadbridge tail <topic>", "-from-end", "-n N", "-timeout", "raw, leads or dlq"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

// tailEnv points the configuration at broker b, with the raw topic named raw.
func tailEnv(b kafkatest.Broker, raw string) func(string) string {
	env := map[string]string{"LEADBRIDGE_KAFKA_BROKERS": strings.Join(b.Seeds, ","), "LEADBRIDGE_TOPIC_RAW": raw}
	return func(k string) string { return env[k] }
}

func TestTailPrintsCloudEvents(t *testing.T) {
	b := kafkatest.Find(t)
	topic := kafkatest.Topic(t, b, "tail-ce", 2, nil)
	ev := schema.Event{
		ID:           "0190a5b2-0000-7000-8000-000000000001",
		Source:       schema.AuroraSource("t1"),
		Type:         schema.AuroraTypePrefix + "lead_created",
		Subject:      "lead-1",
		Time:         tailTime,
		PartitionKey: schema.AuroraKey("t1", "lead-1"),
		Data:         []byte(`{"event":"lead_created","tenant_id":"t1","attributes":{"lead_id":"lead-1","source":"api"}}`),
	}
	ce := ev.Record()
	ce.Topic = topic
	ce.Headers = append(ce.Headers, kgo.RecordHeader{Key: "x-extra", Value: []byte("kept")})
	text := &kgo.Record{Topic: topic, Key: []byte(schema.AuroraKey("t1", "lead-1")), Value: []byte("not json at all")}
	cl := kafkatest.Client(t, b)
	if err := cl.ProduceSync(t.Context(), ce, text).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// "raw" is the alias of the configured raw topic
	var out bytes.Buffer
	args := []string{"leadbridge", "tail", "raw", "-n", "2", "--timeout", "30s"}
	if err := run(t.Context(), args, tailEnv(b, topic), &out); err != nil {
		t.Fatalf("tail: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"--- " + topic + " partition ",
		" offset 0 at ",
		"key: aurora:t1:lead-1\n",
		"  ce_specversion: 1.0\n",
		"  ce_id: 0190a5b2-0000-7000-8000-000000000001\n",
		"  ce_source: /aurora/tenants/t1\n",
		"  ce_type: com.aurorasolar.webhook.lead_created\n",
		"  ce_time: 2026-05-01T10:00:00.123Z\n",
		"  ce_subject: lead-1\n",
		"  ce_partitionkey: aurora:t1:lead-1\n",
		"  content-type: application/json\n",
		"  x-extra: kept\n",
		"value:\n{\n  \"event\": \"lead_created\",\n  \"tenant_id\": \"t1\",\n  \"attributes\": {\n    \"lead_id\": \"lead-1\",\n",
		"value (not JSON, 15 bytes):\nnot json at all\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	// same key, same partition: the CloudEvent (produced first) comes first
	if strings.Index(got, "ce_id") > strings.Index(got, "not json at all") {
		t.Errorf("records out of order:\n%s", got)
	}
}

func TestTailFromEnd(t *testing.T) {
	b := kafkatest.Find(t)
	topic := kafkatest.Topic(t, b, "tail-end", 1, nil)
	cl := kafkatest.Client(t, b, kgo.DefaultProduceTopic(topic))
	if err := cl.ProduceSync(t.Context(), &kgo.Record{Value: []byte(`"old"`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"leadbridge", "tail", "--from-end", "-n", "1", topic}, tailEnv(b, "leads.raw"), &out)
	}()
	// tail starts at the end some time after it is started: keep producing
	// until it has printed one record.
	for i := 0; ; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("tail: %v", err)
			}
			got := out.String()
			if strings.Contains(got, `"old"`) || !strings.Contains(got, `"new-`) {
				t.Fatalf("--from-end printed an old record or no new one:\n%s", got)
			}
			return
		case <-time.After(100 * time.Millisecond):
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, `"new-%d"`, i)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestTailIdleTimeout(t *testing.T) {
	b := kafkatest.Find(t)
	topic := kafkatest.Topic(t, b, "tail-idle", 1, nil)
	env := tailEnv(b, "leads.raw")

	var out bytes.Buffer
	start := time.Now()
	if err := run(t.Context(), []string{"leadbridge", "tail", topic, "--timeout", "500ms"}, env, &out); err != nil {
		t.Fatalf("idle tail without -n: want nil, got %v", err)
	}
	if out.Len() != 0 || time.Since(start) > 20*time.Second {
		t.Fatalf("idle tail printed %q or took %s", out.String(), time.Since(start))
	}

	err := run(t.Context(), []string{"leadbridge", "tail", topic, "-n", "1", "--timeout", "500ms"}, env, &out)
	if err == nil || !strings.Contains(err.Error(), "after 0 of 1") {
		t.Fatalf("idle tail short of -n: want an error, got %v", err)
	}
	if _, ok := errors.AsType[usageError](err); ok {
		t.Fatalf("a timeout is not a usage error: %v", err)
	}
}

func TestTailMissingTopic(t *testing.T) {
	b := kafkatest.Find(t)
	var out bytes.Buffer
	err := run(t.Context(), []string{"leadbridge", "tail", "no-such-topic-for-tail", "--timeout", "1s"}, tailEnv(b, "leads.raw"), &out)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("want a missing-topic error, got %v", err)
	}
}

// tail shows what a read_committed reader of the topic sees, as downstream
// must read leads: an aborted attempt (an exactly-once enrich member's
// batch read again after a crash) is not printed as a duplicate record.
func TestTailSkipsAbortedRecords(t *testing.T) {
	b := kafkatest.Find(t)
	topic := kafkatest.Topic(t, b, "tail-txn", 1, nil)
	cl := kafkatest.Client(t, b, kgo.DefaultProduceTopic(topic), kgo.TransactionalID("tail-test-"+topic))
	for _, v := range []string{"aborted attempt", "committed record"} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(t.Context(), &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(t.Context(), kgo.TransactionEndTry(v == "committed record")); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"leadbridge", "tail", topic, "-n", "1", "--timeout", "30s"}, tailEnv(b, "leads.raw"), &out); err != nil {
		t.Fatalf("tail: %v\n%s", err, out.String())
	}
	if got := out.String(); strings.Contains(got, "aborted attempt") || !strings.Contains(got, "committed record") {
		t.Errorf("tail printed an aborted record, or not the committed one:\n%s", got)
	}
}
