package main

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/cmd/dev"
	"github.com/leadbridge/leadbridge/schema"
)

// syncBuffer is a bytes.Buffer safe for the command writing and the test reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type devProcess struct {
	out    *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

func startDev(t *testing.T, args ...string) *devProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &devProcess{out: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		p.done <- run(ctx, append([]string{"leadbridge", "dev"}, args...), func(string) string { return "" }, p.out)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *devProcess) stop(t *testing.T) {
	t.Helper()
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("dev after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("dev did not stop within 30s")
	}
}

// leadKeys reads the leads topic from the start for a while and returns its keys.
func leadKeys(t *testing.T, broker string, want ...string) map[string]bool {
	t.Helper()
	c, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics("leads"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keys := map[string]bool{}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		c.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if err := schema.ValidateLead(r.Value); err != nil {
				t.Errorf("lead record breaks the schema: %v", err)
			}
			keys[string(r.Key)] = true
		})
		all := true
		for _, w := range want {
			all = all && keys[w]
		}
		if all {
			break
		}
	}
	return keys
}

// waitLead reads the leads topic from the start until a record for key
// satisfies ok, or fails after a minute.
func waitLead(t *testing.T, broker, key string, ok func(schema.Lead) bool) {
	t.Helper()
	c, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics("leads"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		found := false
		c.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var l schema.Lead
			if string(r.Key) == key && json.Unmarshal(r.Value, &l) == nil && ok(l) {
				found = true
			}
		})
		if found {
			return
		}
	}
	t.Fatalf("no lead record for %s as expected within a minute", key)
}

// rawValues reads the raw topic from the start until it has n values of
// key's records, or fails after a minute.
func rawValues(t *testing.T, broker, key string, n int) [][]byte {
	t.Helper()
	c, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics("leads.raw"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var vals [][]byte
	for ctx.Err() == nil && len(vals) < n {
		c.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if string(r.Key) == key {
				vals = append(vals, r.Value)
			}
		})
	}
	if len(vals) < n {
		t.Fatalf("%d raw records for %s within a minute, want %d", len(vals), key, n)
	}
	return vals
}

// leadbridge dev end to end: a lead created in the sandbox fires through
// ingest and enrich, simulate sends an Aurora and a LeadPro webhook, both
// lead records come out; a sandbox lead update (PUT) gives an updated lead
// record; after a restart on the same data dir they are still there.
func TestDevEndToEnd(t *testing.T) {
	data := t.TempDir()
	broker := kafkatest.FreeAddr(t)
	_, kport, _ := strings.Cut(broker, ":")
	in, enr, sb := kafkatest.FreeAddr(t), kafkatest.FreeAddr(t), kafkatest.FreeAddr(t)
	args := []string{"--data", data, "--kafka-port", kport, "--http-addr", in, "--enrich-addr", enr, "--sandbox-addr", sb}
	devp := startDev(t, args...)
	waitHTTP(t, "http://"+in+"/readyz", 200, 30*time.Second)
	if !strings.Contains(devp.out.String(), "LEADBRIDGE_KAFKA_BROKERS="+broker+" leadbridge tail leads") {
		t.Fatalf("banner lacks how to watch the leads topic:\n%s", devp.out.String())
	}

	// A lead created in the sandbox: its lead_created subscription fires through ingest.
	req, _ := http.NewRequest(http.MethodPost, "http://"+sb+"/tenants/"+dev.Tenant+"/leads",
		strings.NewReader(`{"lead":{"address":"434 Brannan St, San Francisco, CA, 94107","customer":{"customer_first_name":"Jane"}}}`))
	req.Header.Set("Authorization", "Bearer "+dev.APIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("create lead: %v %v", err, resp)
	}
	var created struct{ Lead struct{ ID string } }
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()

	// simulate: an Aurora lead_changed for that lead, and a LeadPro lead.created.
	var out bytes.Buffer
	if err := run(t.Context(), []string{"leadbridge", "simulate", "--url", "http://" + in, "--provider", "aurora",
		"--event", "lead_changed", "--tenant", dev.Tenant, "--token", dev.HookToken, "--attr", "lead_id=" + created.Lead.ID},
		func(string) string { return "" }, &out); err != nil || !strings.Contains(out.String(), "200") {
		t.Fatalf("simulate aurora: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"leadbridge", "simulate", "--url", "http://" + in, "--provider", "leadpro",
		"--account", dev.Account, "--secret", dev.Secret, "--attr", "id=31337"},
		func(string) string { return "" }, &out); err != nil || !strings.Contains(out.String(), "200") {
		t.Fatalf("simulate leadpro: %v\n%s", err, out.String())
	}
	auroraKey, leadproKey := schema.AuroraKey(dev.Tenant, created.Lead.ID), schema.LeadProKey(dev.Account, "31337")
	if keys := leadKeys(t, broker, auroraKey, leadproKey); !keys[auroraKey] || !keys[leadproKey] {
		t.Fatalf("lead records: %v", keys)
	}

	// A sandbox lead update (PUT) fires lead_changed through dev's
	// subscription, and the updated lead comes out.
	req, _ = http.NewRequest(http.MethodPut, "http://"+sb+"/tenants/"+dev.Tenant+"/leads/"+created.Lead.ID,
		strings.NewReader(`{"lead":{"customer":{"customer_first_name":"Janet"}}}`))
	req.Header.Set("Authorization", "Bearer "+dev.APIToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("update lead: %v %v", err, resp)
	}
	resp.Body.Close()
	waitLead(t, broker, auroraKey, func(l schema.Lead) bool { return l.Contact.FirstName == "Janet" })

	// dev subscribes with the templates sync makes in production: neither
	// the sandbox's lead_created nor its lead_changed (nor simulate's) is
	// flagged. dev's lead_changed template used to carry lead_created's
	// source=<SOURCE>, which the sandbox fills empty: every dev lead update
	// landed on raw with a "source: empty" problem.
	for i, v := range rawValues(t, broker, auroraKey, 3) {
		if bytes.Contains(v, []byte(`"problems"`)) {
			t.Errorf("raw record %d of %s is flagged: %s", i, auroraKey, v)
		}
	}

	devp.stop(t)
	startDev(t, args...)
	waitHTTP(t, "http://"+in+"/readyz", 200, 30*time.Second)
	if keys := leadKeys(t, broker, auroraKey, leadproKey); !keys[auroraKey] || !keys[leadproKey] {
		t.Fatalf("after a restart the lead records are gone: %v", keys)
	}
}
