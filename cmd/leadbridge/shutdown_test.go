package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/schema"
)

// leadbridge enrich stopped (SIGTERM: run's context ends) mid-backlog,
// while API calls longer than its shutdown_grace are in flight, returns
// within shutdown_grace + 5 s, issue 7's bound. A second member then
// finishes the backlog: a read_committed reader sees every lead exactly
// once and the DLQ stays empty. (enrich's TestShutdownWithinGrace does the
// same with batches of its choosing.)
func TestEnrichStopsWithinGrace(t *testing.T) {
	const leadsN, grace, latency = 60, time.Second, 1500 * time.Millisecond
	b := kafkatest.RequireReal(t)
	s, api := newStackWithAPI(t, b)
	// A file (the only place shutdown_grace is set), with the stack's tenant
	// and no quota to speak of; the LEADBRIDGE_* variables still name the
	// brokers, topics and API.
	s.env["LEADBRIDGE_CONFIG"] = writeFile(t, "leadbridge.yaml", "enrich:\n  shutdown_grace: "+grace.String()+"\n"+
		"aurora:\n  requests_per_minute: 100000\n  tenants:\n    - id: "+tTenant+"\n      api_token: "+tAPI+"\n"+
		"      webhook_auth: {header: X-Aurora-Webhook-Token, tokens: ["+tHook+"]}\n")
	api.SetLatency(latency, 0)
	producer := kafkatest.Client(t, b, kgo.DefaultProduceTopic(s.env["LEADBRIDGE_TOPIC_RAW"]))
	keys := map[string]bool{}
	for i := range leadsN {
		id := api.PutLead(tTenant, map[string]any{"address": "434 Brannan St, San Francisco, CA, 94107", "monthly_average_bill": i})
		data, _ := json.Marshal(schema.AuroraData{Event: "lead_changed", TenantID: tTenant, Attributes: map[string]string{"lead_id": id}})
		ev := schema.Event{ID: uuid.Must(uuid.NewV7()).String(), Source: schema.AuroraSource(tTenant), Type: schema.AuroraTypePrefix + "lead_changed",
			Time: time.Now().UTC(), Subject: id, PartitionKey: schema.AuroraKey(tTenant, id), Data: data}
		if err := producer.ProduceSync(t.Context(), ev.Record()).FirstErr(); err != nil {
			t.Fatal(err)
		}
		keys[schema.AuroraKey(tTenant, id)] = true
	}
	t1 := time.Now()
	stop := s.run("enrich")
	metrics := "http://" + s.env["LEADBRIDGE_ENRICH_HTTP_ADDR"] + "/metrics"
	deadline := time.Now().Add(time.Minute)
	for metric(t, metrics, "leadbridge_enrich_api_inflight") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no API call in flight within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("first API call in flight %v after the start", time.Since(t1).Round(time.Millisecond))
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("enrich: %v", err)
	}
	took := time.Since(start)
	t.Logf("leadbridge enrich stopped %v after SIGTERM, with %v API calls in flight; shutdown_grace %v", took.Round(time.Millisecond), latency, grace)
	if took > grace+5*time.Second {
		t.Fatalf("leadbridge enrich took %v to stop, over shutdown_grace + 5 s (%v)", took, grace+5*time.Second)
	}

	api.SetLatency(0, 0)
	t0 := time.Now()
	s.run("enrich")
	per := map[string]int{}
	waitLeads(t, b, s.env["LEADBRIDGE_TOPIC_LEADS"], func(rs []*kgo.Record) bool {
		clear(per)
		for _, r := range rs {
			per[string(r.Key)]++
		}
		return len(per) >= leadsN
	}, 2*time.Minute)
	t.Logf("the second member finished the backlog %v after it started", time.Since(t0).Round(time.Millisecond))
	for k, n := range per {
		if !keys[k] || n != 1 {
			t.Errorf("lead %s: %d records, want 1", k, n)
		}
	}
	if dlq := waitLeads(t, b, s.env["LEADBRIDGE_TOPIC_DLQ"], nil, 0); len(dlq) != 0 {
		t.Errorf("%d DLQ records, want none", len(dlq))
	}
}
