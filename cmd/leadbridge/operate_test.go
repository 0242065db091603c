package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/enrich/operate"
	"github.com/leadbridge/leadbridge/schema"
)

func TestOperateCommandsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"status", "--help"}, {"dlq", "redrive", "--help"}, {"dlq", "--help"},
		{"aurora", "subscriptions", "sync", "--help"}, {"aurora", "subscriptions", "list", "--help"},
		{"replay", "--help"}, {"forget", "--help"},
	} {
		var out bytes.Buffer
		if err := run(t.Context(), append([]string{"leadbridge"}, args...), envOf(nil), &out); err != nil || !strings.Contains(out.String(), "usage: leadbridge") {
			t.Errorf("%v: err %v, output %q", args, err, out.String())
		}
	}
	for name, args := range map[string][]string{
		"status flag":       {"status", "--nope"},
		"status scan":       {"status", "--dlq-scan", "0"},
		"redrive since":     {"dlq", "redrive", "--since", "yesterday"},
		"redrive range":     {"dlq", "redrive", "--since", "1h", "--until", "2h"},
		"dlq verb":          {"dlq", "rewind"},
		"sync without url":  {"aurora", "subscriptions", "sync"},
		"sync bad event":    {"aurora", "subscriptions", "sync", "--public-url", "https://b.example.com", "--events", "lead_exploded"},
		"sync relative url": {"aurora", "subscriptions", "sync", "--public-url", "b.example.com"},
		"aurora verb":       {"aurora", "webhooks"},
		"replay no since":   {"replay"},
		"replay both":       {"replay", "--since", "2h", "--tenant", "a", "--account", "b"},
		"forget no keys":    {"forget"},
	} {
		t.Run(name, func(t *testing.T) {
			err := run(t.Context(), append([]string{"leadbridge"}, args...), envOf(nil), io.Discard)
			var u usageError
			if !errors.As(err, &u) || strings.Contains(oneLine(err), "\n") {
				t.Fatalf("err = %v, want a one-line usage error", err)
			}
		})
	}
}

func TestAuroraSubscriptionsCommand(t *testing.T) {
	sb := sandbox.New(sandbox.Options{Tokens: map[string]string{tTenant: tAPI}})
	t.Cleanup(sb.Close)
	api := httptest.NewServer(sb.Handler())
	t.Cleanup(api.Close)
	env := envOf(map[string]string{
		"LEADBRIDGE_AURORA_API_URL":       api.URL,
		"LEADBRIDGE_AURORA_TENANT_ID":     tTenant,
		"LEADBRIDGE_AURORA_API_TOKEN":     tAPI,
		"LEADBRIDGE_AURORA_WEBHOOK_TOKEN": tHook,
		"LEADBRIDGE_LOG_LEVEL":            "warn",
		"LEADBRIDGE_PUBLIC_URL":           "https://bridge.example.com",
	})
	sync := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(t.Context(), append([]string{"leadbridge", "aurora", "subscriptions", "sync"}, args...), env, &out); err != nil {
			t.Fatalf("sync %v: %v\n%s", args, err, out.String())
		}
		if strings.Contains(out.String(), tHook) || strings.Contains(out.String(), tAPI) {
			t.Fatalf("a secret was printed:\n%s", out.String())
		}
		return out.String()
	}
	if out := sync("--dry-run"); !strings.Contains(out, "header_auth_value: <redacted>") || len(sb.Webhooks(tTenant)) != 0 {
		t.Fatalf("dry run:\n%s", out)
	}
	if out := sync(); len(sb.Webhooks(tTenant)) != len(schema.AuroraLeadEvents()) {
		t.Fatalf("first sync made %d subscriptions:\n%s", len(sb.Webhooks(tTenant)), out)
	}
	if out := sync(); !strings.Contains(out, "no changes") || !strings.Contains(out, "0 writes") {
		t.Fatalf("second sync:\n%s", out)
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"leadbridge", "aurora", "subscriptions", "list"}, env, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), " enabled ") != len(schema.AuroraLeadEvents()) || strings.Contains(out.String(), "missing") {
		t.Fatalf("list:\n%s", out.String())
	}
}

func TestStatusAndRedriveCommands(t *testing.T) {
	b := kafkatest.RequireReal(t)
	s := newStack(t, b)
	s.topicsCreate()
	dlq := s.env["LEADBRIDGE_TOPIC_DLQ"]
	cmd := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(t.Context(), append([]string{"leadbridge"}, args...), s.getenv, &out)
		return out.String(), err
	}

	out, err := cmd("status", "--json", "--max-lag", "0")
	var st struct {
		Lag        int64 `json:"lag"`
		Healthy    bool  `json:"healthy"`
		Partitions []any `json:"raw_partitions"`
	}
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || !st.Healthy || len(st.Partitions) != 12 {
		t.Fatalf("status on empty topics: %v\n%s", err, out)
	}

	ev := schema.Event{ID: "dlq-1", Source: schema.AuroraSource(tTenant), Type: schema.AuroraTypePrefix + "lead_changed",
		Time: time.Now(), Subject: "L1", PartitionKey: schema.AuroraKey(tTenant, "L1"), Data: []byte(`{"event":"lead_changed"}`)}
	rec := ev.Record()
	rec.Topic = dlq
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: schema.HeaderDLQReason, Value: []byte("not_found")})
	cl := kafkatest.Client(t, b)
	if err := cl.ProduceSync(t.Context(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if out, err := cmd("dlq", "redrive", "--dry-run"); err != nil || !strings.Contains(out, "reason not_found: 1") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	for run, want := range []string{"1 of 1 DLQ record", "0 of 0 DLQ record"} {
		if out, err := cmd("dlq", "redrive", "--reason", "not_found"); err != nil || !strings.Contains(out, want) {
			t.Fatalf("redrive run %d: %v\n%s", run+1, err, out)
		}
	}
	if out, err := cmd("replay", "--since", "1h", "--tenant", tTenant); err != nil || !strings.Contains(out, "1 key(s) replayed") {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	// The redriven and the replayed record are lag for the (absent) group: status exits 1. Its
	// transaction's marker takes an offset too, so the lag is 4. The coordinator writes that
	// marker after EndTxn has answered, so the lag can read 3 for a moment: wait for it.
	deadline := time.Now().Add(30 * time.Second)
	for out, err = cmd("status", "--max-lag", "0"); !strings.Contains(out, "UNHEALTHY: lag 4 ") && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		out, err = cmd("status", "--max-lag", "0")
	}
	var u usageError
	if err == nil || errors.As(err, &u) || !strings.Contains(out, "UNHEALTHY: lag 4 exceeds 0") || !strings.Contains(out, "not_found=1") {
		t.Fatalf("status with lag: %v\n%s", err, out)
	}
}

// metric returns the sum of a Prometheus counter's samples whose labels
// contain every one of match, from a /metrics page.
func metric(t *testing.T, url, name string, match ...string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for l := range strings.Lines(string(b)) {
		if !strings.HasPrefix(l, name+"{") && !strings.HasPrefix(l, name+" ") {
			continue
		}
		ok := true
		for _, m := range match {
			ok = ok && strings.Contains(l, m)
		}
		if f := strings.Fields(l); ok && len(f) >= 2 {
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

// A lead dead-lettered as not_found that now exists in Aurora becomes a lead
// record after a redrive; a replay of it afterwards changes nothing on leads.
func TestRedriveAndReplayThroughEnrich(t *testing.T) {
	b := kafkatest.RequireReal(t)
	s, api := newStackWithAPI(t, b)
	leads := s.env["LEADBRIDGE_TOPIC_LEADS"]
	leadID := api.PutLead(tTenant, map[string]any{"address": "434 Brannan St, San Francisco, CA, 94107",
		"customer": map[string]any{"customer_first_name": "Jane", "customer_last_name": "Doe"}})
	ev := schema.Event{ID: "dead-1", Source: schema.AuroraSource(tTenant), Type: schema.AuroraTypePrefix + "lead_changed",
		Time: time.Now(), Subject: leadID, PartitionKey: schema.AuroraKey(tTenant, leadID),
		Data: []byte(`{"event":"lead_changed","tenant_id":"` + tTenant + `","attributes":{"lead_id":"` + leadID + `"}}`)}
	rec := ev.Record()
	rec.Topic = s.env["LEADBRIDGE_TOPIC_DLQ"]
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: schema.HeaderDLQReason, Value: []byte("not_found")})
	if err := kafkatest.Client(t, b).ProduceSync(t.Context(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	s.run("enrich")
	metrics := "http://" + s.env["LEADBRIDGE_ENRICH_HTTP_ADDR"] + "/metrics"
	waitHTTP(t, "http://"+s.env["LEADBRIDGE_ENRICH_HTTP_ADDR"]+"/readyz", 200, 30*time.Second)

	var out bytes.Buffer
	if err := run(t.Context(), []string{"leadbridge", "dlq", "redrive", "--reason", "not_found"}, s.getenv, &out); err != nil {
		t.Fatalf("redrive: %v\n%s", err, out.String())
	}
	if got := readIDs(t, b, leads, map[string]bool{"dead-1": true}, 60*time.Second); got["dead-1"] != 1 {
		t.Fatalf("the redriven lead gave %d lead records, want 1", got["dead-1"])
	}

	out.Reset()
	if err := run(t.Context(), []string{"leadbridge", "replay", "--since", "1h"}, s.getenv, &out); err != nil || !strings.Contains(out.String(), "1 key(s) replayed") {
		t.Fatalf("replay: %v\n%s", err, out.String())
	}
	deadline := time.Now().Add(60 * time.Second)
	for metric(t, metrics, "leadbridge_enrich_records_total", `outcome="unchanged"`) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("enrich never counted the replayed, unchanged lead")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := readAllIDs(t, b, leads, 60*time.Second); len(got) != 1 {
		t.Fatalf("after the replay, leads holds records of %d raw events, want 1 (no-op suppressed): %v", len(got), got)
	}
}

func TestForgetCommand(t *testing.T) {
	b := kafkatest.RequireReal(t)
	s := newStack(t, b)
	if out := s.topicsCreate(); !strings.Contains(out, "erasures topic "+s.env["LEADBRIDGE_TOPIC_ERASURES"]) {
		t.Fatalf("topics create does not make the erasures topic:\n%s", out)
	}
	keys := writeFile(t, "keys.txt", "# ticket 7\n"+schema.LeadProKey(tAccount, "77")+"\n")
	var out bytes.Buffer
	err := run(t.Context(), []string{"leadbridge", "forget", schema.AuroraKey(tTenant, "L1"), "not a key", "--file", keys}, s.getenv, &out)
	var u usageError
	if err == nil || errors.As(err, &u) || !strings.Contains(err.Error(), "1 of 3 key(s) failed") {
		t.Fatalf("err %v\n%s", err, out.String())
	}
	for _, want := range []string{"forget " + schema.AuroraKey(tTenant, "L1") + " ", "forget " + schema.LeadProKey(tAccount, "77") + " ", "failed key 2: malformed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// Per key an erasure event on raw (enrich writes the tombstone) and an audit record.
	raw := s.env["LEADBRIDGE_TOPIC_RAW"]
	cl := kafkatest.Client(t, b, kgo.ConsumeTopics(raw, s.env["LEADBRIDGE_TOPIC_ERASURES"]),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	counts := map[string]int{}
	for counts[raw]+counts[s.env["LEADBRIDGE_TOPIC_ERASURES"]] < 4 {
		fs := cl.PollFetches(t.Context())
		if t.Context().Err() != nil {
			t.Fatalf("records: %v", counts)
		}
		fs.EachRecord(func(r *kgo.Record) {
			counts[r.Topic]++
			if r.Topic == raw && schema.Header(r, schema.HeaderType) != schema.EraseEventType {
				t.Errorf("not an erasure event on raw: %s", r.Key)
			}
		})
	}
	if counts[raw] != 2 {
		t.Errorf("%d erasure events on raw, want 2", counts[raw])
	}
	if err := run(t.Context(), []string{"leadbridge", "forget"}, s.getenv, io.Discard); !errors.As(err, &u) {
		t.Errorf("forget without keys: %v", err)
	}
}

// redrive and replay against a topic that does not exist say which and what
// to run, and print no summary of work they never started: they used to
// print "0 of 0 DLQ record(s) ... redriven" (and "0 key(s) replayed") above
// a bare UNKNOWN_TOPIC_OR_PARTITION.
func TestRedriveAndReplayNameAMissingTopic(t *testing.T) {
	b := kafkatest.RequireReal(t)
	missing := "operate-missing-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	env := envOf(map[string]string{"LEADBRIDGE_KAFKA_BROKERS": strings.Join(b.Seeds, ","),
		"LEADBRIDGE_TOPIC_DLQ": missing + "-dlq", "LEADBRIDGE_TOPIC_RAW": missing + "-raw"})
	for _, args := range [][]string{{"dlq", "redrive", "--dry-run"}, {"dlq", "redrive"}, {"replay", "--since", "1h", "--dry-run"}} {
		var out bytes.Buffer
		err := run(t.Context(), append([]string{"leadbridge"}, args...), env, &out)
		if err == nil || !strings.Contains(err.Error(), "topic "+missing+"-") || !strings.Contains(err.Error(), " does not exist (run leadbridge topics create)") || out.Len() > 0 {
			t.Errorf("%v: err %v, output %q", args, err, out.String())
		}
	}
}

// replay --tenant or --account that the configuration does not hold is a
// usage error naming the flag and the id given, and nothing else of the
// configuration (forget refuses such a key the same way): it used to replay
// 0 records, quietly. The check comes before any broker is asked, which the
// cancelled context proves: a replay that went on would fail with it.
func TestReplayRefusesAnUnknownTenantOrAccount(t *testing.T) {
	env := envOf(map[string]string{"LEADBRIDGE_AURORA_TENANT_ID": tTenant, "LEADBRIDGE_LEADPRO_ACCOUNT_ID": tAccount,
		"LEADBRIDGE_LOG_LEVEL": "warn"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, tc := range map[string]struct {
		args      []string
		want, not string // not: a configured id the error must not quote
	}{
		"tenant":  {[]string{"--tenant", "nope-tenant"}, `--tenant "nope-tenant"`, tTenant},
		"account": {[]string{"--account", "nope-account"}, `--account "nope-account"`, tAccount},
		// An account's id is no tenant, nor the other way round.
		"account as tenant": {[]string{"--tenant", tAccount}, `--tenant "` + tAccount + `"`, tTenant},
		"tenant as account": {[]string{"--account", tTenant}, `--account "` + tTenant + `"`, tAccount},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(ctx, append([]string{"leadbridge", "replay", "--since", "1h", "--dry-run"}, tc.args...), env, &out)
			var u usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), tc.want) || out.Len() > 0 {
				t.Fatalf("err = %v, output %q; want a usage error naming %s", err, out.String(), tc.want)
			}
			if strings.Contains(err.Error(), tc.not) {
				t.Errorf("the error quotes the configuration's %s: %v", tc.not, err)
			}
		})
	}
}

// A --reason enrich never writes is a usage error (exit 2) that lists the
// valid ones. A user trial's typo used to be taken: the redrive matched
// nothing and still left a consumer group of its own behind.
func TestRedriveRefusesAnUnknownReason(t *testing.T) {
	b := kafkatest.RequireReal(t)
	s := newStack(t, b)
	s.topicsCreate()
	dlq := s.env["LEADBRIDGE_TOPIC_DLQ"]
	ev := schema.Event{ID: "dlq-typo", Source: schema.AuroraSource(tTenant), Type: schema.AuroraTypePrefix + "lead_changed",
		Time: time.Now(), Subject: "L1", PartitionKey: schema.AuroraKey(tTenant, "L1"), Data: []byte(`{"event":"lead_changed"}`)}
	rec := ev.Record()
	rec.Topic = dlq
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: schema.HeaderDLQReason, Value: []byte(schema.DLQReasonNotFound)})
	cl := kafkatest.Client(t, b)
	if err := cl.ProduceSync(t.Context(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		args    []string
		reasons []string // the filter the redrive would have had
	}{
		"typo":            {[]string{"--reason", "not_fond"}, []string{"not_fond"}},
		"typo in a list":  {[]string{"--reason", "not_found,not_fond"}, []string{"not_found", "not_fond"}},
		"typo repeated":   {[]string{"--reason", "not_found", "--reason", "not_fond"}, []string{"not_found", "not_fond"}},
		"typo in dry run": {[]string{"--dry-run", "--reason", "Not_Found"}, []string{"Not_Found"}},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), append([]string{"leadbridge", "dlq", "redrive"}, tc.args...), s.getenv, &out)
			var u usageError
			if !errors.As(err, &u) || strings.Contains(oneLine(err), "\n") || out.Len() > 0 {
				t.Fatalf("err = %v, output %q; want a one-line usage error and no output", err, out.String())
			}
			for _, r := range schema.DLQReasons() {
				if !strings.Contains(err.Error(), string(r)) {
					t.Errorf("the error does not name %s: %v", r, err)
				}
			}
			group := operate.RedriveGroup(operate.RedriveOptions{Topics: operate.Topics{DLQ: dlq}, Reasons: tc.reasons})
			if offs, err := kadm.NewClient(cl).FetchOffsets(t.Context(), group); err != nil || len(offs) != 0 {
				t.Fatalf("the refused redrive left a position in %s: %v, %v", group, offs, err)
			}
		})
	}
	var out bytes.Buffer // every reason enrich writes is taken
	args := []string{"leadbridge", "dlq", "redrive", "--dry-run"}
	for _, r := range schema.DLQReasons() {
		args = append(args, "--reason", string(r))
	}
	if err := run(t.Context(), args, s.getenv, &out); err != nil || !strings.Contains(out.String(), "reason not_found: 1") {
		t.Fatalf("every valid reason: %v\n%s", err, out.String())
	}
}
