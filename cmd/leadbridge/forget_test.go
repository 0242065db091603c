package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

// Issue 9's erasure test, with ingest and an enrich member running all along:
// a lead gets its record; forget → a tombstone on leads; a later webhook for
// the key → no record, once enrich has committed past it; unforget → the
// next webhook gives the record again.
func TestForgetThroughEnrich(t *testing.T) {
	b := kafkatest.RequireReal(t)
	s, api := newStackWithAPI(t, b)
	s.run("ingest")
	s.run("enrich")
	waitHTTP(t, s.url("/readyz"), 200, 30*time.Second)
	waitHTTP(t, "http://"+s.env["LEADBRIDGE_ENRICH_HTTP_ADDR"]+"/readyz", 200, 30*time.Second)
	leads, raw := s.env["LEADBRIDGE_TOPIC_LEADS"], s.env["LEADBRIDGE_TOPIC_RAW"]

	leadID := api.PutLead(tTenant, map[string]any{"address": "434 Brannan St, San Francisco, CA, 94107",
		"customer": map[string]any{"customer_first_name": "Jane", "customer_last_name": "Doe"}})
	key := schema.AuroraKey(tTenant, leadID)
	webhook := func() string {
		t.Helper()
		resp, err := auroraDelivery(t.Context(), s, leadID)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("aurora delivery: %v %v", err, resp)
		}
		return okID(t, resp)
	}
	forget := func(args ...string) {
		t.Helper()
		var out bytes.Buffer
		if err := run(t.Context(), append([]string{"leadbridge", "forget", key}, args...), s.getenv, &out); err != nil {
			t.Fatalf("forget %v: %v\n%s", args, err, out.String())
		}
	}

	first := webhook()
	if got := readIDs(t, b, leads, map[string]bool{first: true}, 60*time.Second); got[first] != 1 {
		t.Fatalf("the lead gave %d records, want 1", got[first])
	}

	forget()
	tomb := waitLeads(t, b, leads, func(rs []*kgo.Record) bool { return len(rs) == 2 }, 60*time.Second)
	if r := tomb[1]; string(r.Key) != key || r.Value != nil || schema.Header(r, schema.HeaderErasedAt) == "" {
		t.Fatalf("the record after forget is not the key's tombstone: key %s, %d bytes", r.Key, len(r.Value))
	}

	// A later webhook, with the lead changed in Aurora: once enrich has
	// committed its raw offset (in the transaction of anything it wrote),
	// leads must still end with the tombstone.
	api.UpdateLead(tTenant, leadID, map[string]any{"status": "changed after the erasure"})
	later := webhook()
	waitProcessed(t, b, raw, s.env["LEADBRIDGE_ENRICH_GROUP"], later)
	if rs := waitLeads(t, b, leads, nil, 0); len(rs) != 2 {
		t.Fatalf("after forget, a webhook for the key gave %d more record(s) on leads", len(rs)-2)
	}

	forget("--unforget")
	again := webhook()
	if got := readIDs(t, b, leads, map[string]bool{again: true}, 60*time.Second); got[again] != 1 || got[later] != 0 {
		t.Fatalf("after unforget: records by raw event %v, want one for the new webhook only", got)
	}
}

// newStackWithAPI is a stack with its topics created and the Aurora sandbox,
// knowing the stack's tenant, as the API.
func newStackWithAPI(t *testing.T, b kafkatest.Broker) (*stack, *sandbox.Server) {
	t.Helper()
	s := newStack(t, b)
	api := sandbox.New(sandbox.Options{Tokens: map[string]string{tTenant: tAPI}})
	apiSrv := httptest.NewServer(api.Handler())
	t.Cleanup(func() { apiSrv.Close(); api.Close() })
	s.env["LEADBRIDGE_AURORA_API_URL"] = apiSrv.URL
	s.topicsCreate()
	return s, api
}

// waitLeads reads leads (read_committed) from the start until cond holds of
// what was read, or d passes (then it fails); a nil cond reads the topic to
// the end it has now (kafkatest.ReadCommitted).
func waitLeads(t *testing.T, b kafkatest.Broker, topic string, cond func([]*kgo.Record) bool, d time.Duration) []*kgo.Record {
	t.Helper()
	if cond == nil {
		return kafkatest.ReadCommitted(t, b, topic)
	}
	cl := kafkatest.Client(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	var out []*kgo.Record
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		out = append(out, fs.Records()...)
		switch {
		case cond(out):
			return out
		case time.Now().After(deadline):
			t.Fatalf("leads: %d records, still not what was awaited", len(out))
		}
	}
}

// waitProcessed waits until group has committed past the raw record with
// ce_id id: enrich has processed it, and what it wrote for it is committed.
func waitProcessed(t *testing.T, b kafkatest.Broker, raw, group, id string) {
	t.Helper()
	cl := kafkatest.Client(t, b, kgo.ConsumeTopics(raw), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var at *kgo.Record
	for at == nil && t.Context().Err() == nil {
		cl.PollFetches(t.Context()).EachRecord(func(r *kgo.Record) {
			if schema.Header(r, schema.HeaderID) == id {
				at = r
			}
		})
	}
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(60 * time.Second)
	for {
		os, err := adm.FetchOffsets(t.Context(), group)
		if o, ok := os.Lookup(raw, at.Partition); err == nil && ok && o.At > at.Offset {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group never committed past raw %d/%d", at.Partition, at.Offset)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
