package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/topics"
	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/ingest"
	"github.com/leadbridge/leadbridge/schema"
)

const (
	tTenant  = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	tAccount = "9999"
	tHook    = "webhook-token-for-tests"
	tAPI     = "api-token-for-tests"
	tSecret  = "leadpro-signing-secret-for-tests"
)

// stack is the environment of one end-to-end test: unique topics and group,
// free ports, single-tenant configuration from environment variables only.
type stack struct {
	t   testing.TB
	b   kafkatest.Broker
	env map[string]string
}

func newStack(t testing.TB, b kafkatest.Broker) *stack {
	t.Helper()
	id := uuid.NewString()[:8]
	s := &stack{t: t, b: b, env: map[string]string{
		"LEADBRIDGE_KAFKA_BROKERS":          strings.Join(b.Seeds, ","),
		"LEADBRIDGE_TOPIC_RAW":              "e2e-raw-" + id,
		"LEADBRIDGE_TOPIC_LEADS":            "e2e-leads-" + id,
		"LEADBRIDGE_TOPIC_DLQ":              "e2e-dlq-" + id,
		"LEADBRIDGE_TOPIC_ERASURES":         "e2e-erasures-" + id,
		"LEADBRIDGE_TOPIC_STATE":            "e2e-state-" + id,
		"LEADBRIDGE_TOPIC_RETRY":            "e2e-retry-" + id,
		"LEADBRIDGE_ENRICH_GROUP":           "e2e-" + id,
		"LEADBRIDGE_HTTP_ADDR":              kafkatest.FreeAddr(t),
		"LEADBRIDGE_ENRICH_HTTP_ADDR":       kafkatest.FreeAddr(t),
		"LEADBRIDGE_AURORA_TENANT_ID":       tTenant,
		"LEADBRIDGE_AURORA_API_TOKEN":       tAPI,
		"LEADBRIDGE_AURORA_WEBHOOK_TOKEN":   tHook,
		"LEADBRIDGE_LEADPRO_ACCOUNT_ID":     tAccount,
		"LEADBRIDGE_LEADPRO_SIGNING_SECRET": tSecret,
		"LEADBRIDGE_LOG_LEVEL":              "warn",
	}}
	t.Cleanup(func() {
		adm := kadm.NewClient(kafkatest.Client(t, b))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, s.env["LEADBRIDGE_TOPIC_RAW"], s.env["LEADBRIDGE_TOPIC_LEADS"], s.env["LEADBRIDGE_TOPIC_DLQ"], s.env["LEADBRIDGE_TOPIC_ERASURES"],
			s.env["LEADBRIDGE_TOPIC_STATE"], s.env["LEADBRIDGE_TOPIC_RETRY"])
	})
	return s
}

func (s *stack) getenv(k string) string { return s.env[k] }

func (s *stack) url(path string) string { return "http://" + s.env["LEADBRIDGE_HTTP_ADDR"] + path }

// run runs a leadbridge command in the background until the returned stop
// (a SIGTERM) is called; stop returns run's error.
func (s *stack) run(args ...string) (stop func() error) {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"leadbridge"}, args...), s.getenv, io.Discard) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = errors.New("did not stop within 30s of SIGTERM")
			}
		})
		return err
	}
	s.t.Cleanup(func() { _ = stop() })
	return stop
}

func (s *stack) topicsCreate(extra ...string) string {
	s.t.Helper()
	var out bytes.Buffer
	if err := run(s.t.Context(), append([]string{"leadbridge", "topics", "create"}, extra...), s.getenv, &out); err != nil {
		s.t.Fatalf("topics create: %v\n%s", err, out.String())
	}
	return out.String()
}

func waitHTTP(tb testing.TB, url string, want int, d time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not answer %d within %v (last: %v)", url, want, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func auroraDelivery(ctx context.Context, s *stack, leadID string) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
		s.url("/webhooks/aurora/"+tTenant+"/lead_created?lead_id="+leadID+"&source=api"), nil)
	req.Header.Set("X-Aurora-Webhook-Token", tHook)
	return http.DefaultClient.Do(req)
}

// leadproToken signs a payload with HS256 the way LeadPro does.
func leadproToken(tb testing.TB, payload string) string {
	tb.Helper()
	tok, err := ingest.SignLeadPro([]byte(payload), tSecret)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// okIDs reads the 200 answer's event id.
func okID(tb testing.TB, resp *http.Response) string {
	tb.Helper()
	defer resp.Body.Close()
	var ans struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || ans.ID == "" {
		tb.Fatalf("200 without an event id: %v", err)
	}
	return ans.ID
}

// readIDs reads topic from the start until every id in want was seen or d passes.
func readIDs(tb testing.TB, b kafkatest.Broker, topic string, want map[string]bool, d time.Duration) map[string]int {
	tb.Helper()
	c := kafkatest.Client(tb, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	seen := map[string]int{}
	missing := len(want)
	for missing > 0 && ctx.Err() == nil {
		c.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			id := schema.Header(r, schema.HeaderID)
			seen[id]++
			if seen[id] == 1 && want[id] {
				missing--
			}
		})
	}
	return seen
}

// readAllIDs is readIDs up to the end of every partition of topic: it
// writes a marker record to each partition and reads until it has seen them
// all, so what it returns does not depend on how quickly the reader starts.
// The markers are left out of the result.
func readAllIDs(tb testing.TB, b kafkatest.Broker, topic string, d time.Duration) map[string]int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cl := kafkatest.Client(tb, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil || td[topic].Err != nil {
		tb.Fatalf("describe %s: %v %v", topic, err, td[topic].Err)
	}
	markers := map[string]bool{}
	for p := range td[topic].Partitions {
		id := fmt.Sprintf("end-marker-%d-%s", p, uuid.NewString())
		markers[id] = true
		r := &kgo.Record{Topic: topic, Partition: p, Key: []byte(id), Value: []byte("{}"),
			Headers: []kgo.RecordHeader{{Key: schema.HeaderID, Value: []byte(id)}}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			tb.Fatalf("end marker: %v", err)
		}
	}
	seen := readIDs(tb, b, topic, markers, d)
	for id := range markers {
		if seen[id] == 0 {
			tb.Fatalf("%s not read to its end within %v", topic, d)
		}
		delete(seen, id)
	}
	return seen
}

// The whole pipeline through run(): topics create, ingest and enrich from
// environment variables alone, one webhook of each provider, one lead record
// each on the leads topic; SIGTERM stops both with a nil error (exit 0).
func TestRunPipelineEndToEnd(t *testing.T) {
	b := kafkatest.Find(t)
	s := newStack(t, b)
	api := sandbox.New(sandbox.Options{Tokens: map[string]string{tTenant: tAPI}, Logger: zaptest.NewLogger(t)})
	apiSrv := httptest.NewServer(api.Handler())
	t.Cleanup(func() { apiSrv.Close(); api.Close() })
	s.env["LEADBRIDGE_AURORA_API_URL"] = apiSrv.URL

	if out := s.topicsCreate(); strings.Count(out, "created ") != len(topics.Specs(config.Default().Topics)) {
		t.Fatalf("topics create:\n%s", out)
	}
	stopIngest := s.run("ingest")
	stopEnrich := s.run("enrich")
	waitHTTP(t, s.url("/readyz"), 200, 30*time.Second)

	leadID := api.PutLead(tTenant, map[string]any{"address": "434 Brannan St, San Francisco, CA, 94107",
		"customer": map[string]any{"customer_first_name": "Jane", "customer_last_name": "Doe"}})
	resp, err := auroraDelivery(t.Context(), s, leadID)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("aurora delivery: %v %v", err, resp)
	}
	auroraID := okID(t, resp)
	payload := `{"event":"lead.created","data":{"id":4242,"full_name":"Ada Lovelace","email":"ada@example.com","phone":"07000000000","type":"landlord","address":"1 Row","postcode":"EC1A 1BB"}}`
	req, _ := http.NewRequest(http.MethodPost, s.url("/webhooks/leadpro/"+tAccount), strings.NewReader(payload))
	req.Header.Set("Authorization", "Bearer "+leadproToken(t, payload))
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("leadpro delivery: %v %v", err, resp)
	}
	leadproID := okID(t, resp)

	seen := readIDs(t, b, s.env["LEADBRIDGE_TOPIC_LEADS"], map[string]bool{auroraID: true, leadproID: true}, 60*time.Second)
	if seen[auroraID] == 0 || seen[leadproID] == 0 {
		t.Fatalf("lead records missing: %v", seen)
	}
	if err := stopIngest(); err != nil {
		t.Fatalf("ingest after SIGTERM: %v", err)
	}
	if err := stopEnrich(); err != nil {
		t.Fatalf("enrich after SIGTERM: %v", err)
	}
}

// topics create is idempotent and reports drift; --strict makes drift an error.
func TestTopicsCreateIdempotentWithDrift(t *testing.T) {
	b := kafkatest.Find(t)
	s := newStack(t, b)
	first := s.topicsCreate()
	wantTopics := len(topics.Specs(config.Default().Topics))
	if strings.Count(first, "created ") != wantTopics {
		t.Fatalf("first run:\n%s", first)
	}
	if again := s.topicsCreate(); strings.Count(again, "exists with the right settings") != wantTopics {
		t.Fatalf("second run is not idempotent:\n%s", again)
	}
	adm := kadm.NewClient(kafkatest.Client(t, b))
	del := "delete"
	if _, err := adm.AlterTopicConfigs(t.Context(), []kadm.AlterConfig{{Name: "cleanup.policy", Value: &del}}, s.env["LEADBRIDGE_TOPIC_LEADS"]); err != nil {
		t.Fatal(err)
	}
	waitFor := time.Now().Add(10 * time.Second)
	for {
		out := s.topicsCreate()
		if strings.Contains(out, "drift: leads topic "+s.env["LEADBRIDGE_TOPIC_LEADS"]+": cleanup.policy=delete, want compact") {
			break
		}
		if time.Now().After(waitFor) {
			t.Fatalf("drift not reported:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	err := run(t.Context(), []string{"leadbridge", "topics", "create", "--strict"}, s.getenv, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "drifted") {
		t.Fatalf("--strict with drift: %v", err)
	}
}

// The broker stops mid-load: every request is answered within 10 s (Aurora's
// limit), never 200 without the ack; once the broker is back, every event
// that got a 200 is on the raw topic.
func TestIngestBrokerStoppedMidLoad(t *testing.T) {
	kafkatest.RequireReal(t)
	p := kafkatest.StartPrivate(t)
	s := newStack(t, p.Broker)
	s.topicsCreate()
	s.run("ingest")
	waitHTTP(t, s.url("/readyz"), 200, 30*time.Second)

	var (
		mu       sync.Mutex
		acked    = map[string]bool{}
		statuses = map[int]int{}
		slowest  time.Duration
		stopLoad atomic.Bool
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 15 * time.Second}
	for w := range 8 {
		wg.Go(func() {
			for i := 0; !stopLoad.Load(); i++ {
				start := time.Now()
				req, _ := http.NewRequest(http.MethodGet, s.url(fmt.Sprintf("/webhooks/aurora/%s/lead_changed?lead_id=w%d-%d", tTenant, w, i)), nil)
				req.Header.Set("X-Aurora-Webhook-Token", tHook)
				resp, err := client.Do(req)
				took := time.Since(start)
				mu.Lock()
				slowest = max(slowest, took)
				if err != nil {
					statuses[0]++
				} else {
					statuses[resp.StatusCode]++
					if resp.StatusCode == 200 {
						var ans struct{ ID string }
						_ = json.NewDecoder(resp.Body).Decode(&ans)
						acked[ans.ID] = true
					} else if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
						t.Error("503 without Retry-After")
					}
					resp.Body.Close()
				}
				mu.Unlock()
				if resp != nil && resp.StatusCode != 200 {
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	// Phases end on conditions, not on the clock: some 200s, then 503s
	// while the broker is down, then 200s again once it is back.
	count := func(code int) int { mu.Lock(); defer mu.Unlock(); return statuses[code] }
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("%s did not happen within 90s (answers so far: %v)", what, statuses)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitUntil("10 acknowledged webhooks", func() bool { return count(200) >= 10 })
	before := count(200)
	p.Stop(t)
	t.Log("broker stopped")
	waitUntil("8 answers 503 with the broker down (one per worker)", func() bool { return count(503) >= 8 })
	during503 := count(503)
	p.Start(t)
	t.Log("broker started again")
	afterStart := count(200)
	waitUntil("10 more acknowledged webhooks after the restart", func() bool { return count(200) >= afterStart+10 })
	stopLoad.Store(true)
	wg.Wait()

	t.Logf("answers: %v (200s before the stop: %d), slowest %v, acknowledged events %d", statuses, before, slowest, len(acked))
	if slowest > 10*time.Second {
		t.Errorf("a request took %v: Aurora gives up at 10 s", slowest)
	}
	if during503 == 0 {
		t.Error("no 503 while the broker was down")
	}
	if statuses[0] > 0 {
		t.Errorf("%d requests got no answer at all", statuses[0])
	}
	seen := readIDs(t, p.Broker, s.env["LEADBRIDGE_TOPIC_RAW"], acked, 60*time.Second)
	lost := 0
	for id := range acked {
		if seen[id] == 0 {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged events are not on the topic", lost, len(acked))
	}
	t.Logf("all %d acknowledged events are on the topic (%d records in all, duplicates from 503-then-landed allowed)", len(acked), len(seen))
}

func TestCLIErrors(t *testing.T) {
	noKeys := writeFile(t, "keys.txt", "# erasure request 42\n\n")
	tests := map[string]struct {
		args  []string
		env   map[string]string
		usage bool
		want  string
	}{
		"no command":     {args: nil, usage: true, want: "no command"},
		"unknown":        {args: []string{"frobnicate"}, usage: true, want: "unknown command"},
		"bad flag":       {args: []string{"ingest", "--nope"}, usage: true, want: "nope"},
		"stray argument": {args: []string{"ingest", "extra"}, usage: true, want: "unexpected argument"},
		"bad config": {args: []string{"ingest"}, env: map[string]string{"LEADBRIDGE_KAFKA_BROKERS": "nohost", "LEADBRIDGE_AURORA_TENANT_ID": "t1"},
			usage: true, want: "invalid configuration"},
		"missing config file": {args: []string{"enrich", "--config", "/nonexistent.yaml"}, usage: true, want: "cannot read the config file"},
		"topics usage":        {args: []string{"topics"}, usage: true, want: "topics create"},
		// issue 11.6 and 11.9: one line that says what to do
		"wrong flag names --help":    {args: []string{"ingest", "--nope"}, usage: true, want: "run 'leadbridge ingest --help'"},
		"ingest unconfigured":        {args: []string{"ingest"}, usage: true, want: "LEADBRIDGE_AURORA_TENANT_ID"},
		"enrich unconfigured":        {args: []string{"enrich"}, usage: true, want: "nothing is configured"},
		"topics create unconfigured": {args: []string{"topics", "create"}, usage: true, want: "nothing is configured"},
		// it used to say "forget needs lead keys or --file" to a --file
		"forget --file without keys": {args: []string{"forget", "--file", noKeys}, usage: true, want: "--file " + noKeys + " holds no lead key"},
		// a wrong value is named alone, not with a right one
		"status --max-lag":  {args: []string{"status", "--max-lag", "-5"}, usage: true, want: "--max-lag must be at least -1,"},
		"status --dlq-scan": {args: []string{"status", "--dlq-scan", "0"}, usage: true, want: "--dlq-scan must be at least 1 ("},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), append([]string{"leadbridge"}, tc.args...), func(k string) string { return tc.env[k] }, &out)
			if len(tc.args) > 0 && out.Len() > 0 {
				t.Errorf("an error printed the usage as well:\n%s", out.String())
			}
			var u usageError
			if err == nil || errors.As(err, &u) != tc.usage || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (usage error: %v), want %q", err, errors.As(err, &u), tc.want)
			}
			if strings.Contains(oneLine(err), "\n") {
				t.Fatal("the error is not one line")
			}
		})
	}
	for _, args := range [][]string{{"--help"}, {"ingest", "--help"}, {"enrich", "-h"}, {"topics", "create", "--help"}, {"version"}} {
		var out bytes.Buffer
		if err := run(t.Context(), append([]string{"leadbridge"}, args...), func(string) string { return "" }, &out); err != nil || out.Len() == 0 {
			t.Errorf("%v: err %v, output %q", args, err, out.String())
		}
	}
}

// A Kafka TLS file that cannot be read, or holds no certificate, is a bad
// configuration: exit 2 with the other problems in one line, for every
// command with a Kafka client. It used to exit 1 with that problem alone,
// and only once the rest of the configuration was right.
func TestCLIKafkaTLSFilesAreConfiguration(t *testing.T) {
	notPEM := writeFile(t, "ca.pem", "not a certificate\n")
	for name, ca := range map[string]string{"missing": "/nonexistent/ca.pem", "not PEM": notPEM} {
		cfg := writeFile(t, "leadbridge.yaml", `kafka:
  brokers: ["127.0.0.1:9"]
  tls: {enabled: true, ca_file: "`+ca+`"}
aurora:
  tenants: [{id: t1, api_token: tok, webhook_auth: {header: X-Token, tokens: [hook]}}]
log:
  level: loud
`)
		for _, args := range [][]string{{"ingest"}, {"enrich"}, {"topics", "create"}, {"status"}, {"tail", "leads"},
			{"dlq", "redrive"}, {"replay", "--since", "1h"}, {"forget", "aurora:t1:L1"}} {
			t.Run(name+"/"+strings.Join(args, " "), func(t *testing.T) {
				err := run(t.Context(), append(append([]string{"leadbridge"}, args...), "--config", cfg), func(string) string { return "" }, io.Discard)
				var u usageError
				if err == nil || !errors.As(err, &u) || !strings.Contains(err.Error(), "kafka.tls.ca_file") || !strings.Contains(err.Error(), "log.level") {
					t.Fatalf("want a usage error naming kafka.tls.ca_file and log.level: %v", err)
				}
			})
		}
	}
}
