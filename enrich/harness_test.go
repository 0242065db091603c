package enrich_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap/zaptest"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/enrich/aurora"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

// harness is one test's world: a broker, its own raw/leads/DLQ topics, the
// Aurora sandbox as the API double, and enricher members.
type harness struct {
	t               testing.TB
	b               kafkatest.Broker
	raw, leads, dlq string
	state, retry    string
	group           string
	api             *sandbox.Server
	apiURL          string
	tokens          map[string]schema.Secret
	producer        *kgo.Client
	rawOffsets      sync.Map // ce_id -> raw offset (order checks)
	rawSent         sync.Map // ce_id -> rawSend (partition and time produced)
	partitions      int32
	cfg             func(*enrich.Config)
}

func newHarness(t testing.TB, tenants int, partitions int32, opts sandbox.Options) *harness {
	t.Helper()
	return newHarnessOn(t, kafkatest.Find(t), tenants, partitions, opts)
}

// newHarnessOn is newHarness on broker b (a private one, for a test that kills it).
func newHarnessOn(t testing.TB, b kafkatest.Broker, tenants int, partitions int32, opts sandbox.Options) *harness {
	t.Helper()
	compact := "compact"
	h := &harness{t: t, b: b, partitions: partitions,
		raw:    kafkatest.Topic(t, b, "raw", partitions, nil),
		leads:  kafkatest.Topic(t, b, "leads", partitions, map[string]*string{"cleanup.policy": &compact}),
		dlq:    kafkatest.Topic(t, b, "dlq", 1, nil),
		state:  kafkatest.Topic(t, b, "state", partitions, map[string]*string{"cleanup.policy": &compact}),
		retry:  kafkatest.Topic(t, b, "retry", partitions, nil),
		group:  "enrich-test-" + uuid.NewString()[:8],
		tokens: map[string]schema.Secret{},
	}
	tok := map[string]string{}
	for i := range tenants {
		id := fmt.Sprintf("tenant-%d", i)
		tok[id] = "api-token-" + id
		h.tokens[id] = schema.Secret(tok[id])
	}
	opts.Tokens = tok
	opts.Logger = zaptest.NewLogger(t).Named("sandbox")
	h.api = sandbox.New(opts)
	srv := httptest.NewServer(h.api.Handler())
	t.Cleanup(func() { srv.Close(); h.api.Close() })
	h.apiURL = srv.URL
	h.producer = kafkatest.Client(t, b, kgo.DefaultProduceTopic(h.raw))
	return h
}

// member runs one enricher in this process until stop is called.
type member struct {
	e      *enrich.Enricher
	client *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
}

func (h *harness) start(name string, mutate ...func(*enrich.Config)) *member {
	h.t.Helper()
	return h.startWith(name, nil, mutate...)
}

// startWith is start with the API client passed through wrap (nil: as is),
// e.g. to hold its calls.
func (h *harness) startWith(name string, wrap func(enrich.LeadFetcher) enrich.LeadFetcher, mutate ...func(*enrich.Config)) *member {
	h.t.Helper()
	cfg := enrich.Config{
		RawTopic: h.raw, LeadsTopic: h.leads, DLQTopic: h.dlq, StateTopic: h.state, RetryTopic: h.retry,
		APITokens: h.tokens, RequestsPerMinute: 1_000_000,
		BackoffBase: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		RetryFor: 5 * time.Second, NotFoundRetryFor: time.Second,
		ShutdownGrace: 5 * time.Second,
		Metrics:       prometheus.NewRegistry(),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	log := zaptest.NewLogger(h.t).Named(name)
	var fetch enrich.LeadFetcher = aurora.NewClient(h.apiURL, nil, log)
	if wrap != nil {
		fetch = wrap(fetch)
	}
	e, err := enrich.New(cfg, fetch, log)
	if err != nil {
		h.t.Fatal(err)
	}
	client, err := e.NewClient(h.t.Context(), kgo.SeedBrokers(h.b.Seeds...), kgo.ConsumerGroup(h.group), kgo.ProducerLinger(0), kgo.WithLogger(kzap.New(log.Named("kgo"), kzap.Level(kgo.LogLevelWarn))))
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{e: e, client: client, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		if err := e.Run(ctx, client); err != nil {
			h.t.Logf("member %s stopped: %v", name, err)
			e.Client().Close() // leave the group, as the command does
		}
	}()
	h.t.Cleanup(m.stop)
	return m
}

// stop is a graceful shutdown: finish, commit, leave.
func (m *member) stop() {
	m.cancel()
	<-m.done
	cl := m.e.Client() // a restart may have replaced the first client
	cl.LeaveGroup()
	cl.Close()
}

// auroraEvent produces an Aurora lead event for a lead to the raw topic, as
// ingest would, and remembers its offset.
func (h *harness) auroraEvent(ctx context.Context, tenant, event, leadID string) {
	h.t.Helper()
	data, _ := json.Marshal(schema.AuroraData{Event: event, TenantID: tenant, Attributes: map[string]string{"lead_id": leadID}})
	h.produceRaw(ctx, schema.Event{
		ID: uuid.Must(uuid.NewV7()).String(), Source: schema.AuroraSource(tenant),
		Type: schema.AuroraTypePrefix + event, Subject: leadID, Time: time.Now().UTC(),
		PartitionKey: schema.AuroraKey(tenant, leadID), Data: data,
	})
}

func (h *harness) produceRaw(ctx context.Context, ev schema.Event) {
	h.t.Helper()
	r := ev.Record()
	r.Topic = h.raw
	res := h.producer.ProduceSync(ctx, r)
	if err := res.FirstErr(); err != nil {
		h.t.Fatalf("produce raw: %v", err)
	}
	h.rawOffsets.Store(ev.ID, res[0].Record.Offset)
	h.rawSent.Store(ev.ID, rawSend{partition: res[0].Record.Partition, at: time.Now()})
}

type rawSend struct {
	partition int32
	at        time.Time
}

// leadRecord is one record read back from the leads topic.
type leadRecord struct {
	key    string
	offset int64
	lead   schema.Lead
	ev     schema.Event
}

// readAll reads a topic from the start until it has at least want records
// (then a short settle) or the deadline passes.
func (h *harness) readAll(ctx context.Context, topic string, want int, settle time.Duration) []*kgo.Record {
	h.t.Helper()
	c := kafkatest.Client(h.t, h.b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var out []*kgo.Record
	var quietSince time.Time
	for {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		fs := c.PollFetches(pctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r); n++ })
		if n > 0 {
			quietSince = time.Time{}
		} else if quietSince.IsZero() {
			quietSince = time.Now()
		}
		if len(out) >= want && !quietSince.IsZero() && time.Since(quietSince) >= settle {
			return out
		}
		if ctx.Err() != nil {
			return out
		}
	}
}

// leadsOf decodes lead records and validates every one against the schema.
func (h *harness) leadsOf(recs []*kgo.Record) []leadRecord {
	h.t.Helper()
	var out []leadRecord
	for _, r := range recs {
		ev, err := schema.DecodeRecord(r)
		if err != nil {
			h.t.Fatalf("lead record is not a CloudEvent: %v", err)
		}
		if err := schema.ValidateLead(r.Value); err != nil {
			h.t.Fatalf("lead record breaks the schema: %v", err)
		}
		var l schema.Lead
		if err := json.Unmarshal(r.Value, &l); err != nil {
			h.t.Fatal(err)
		}
		if ev.Type != schema.LeadEventType || ev.ID != l.SourceEvent.ID || string(r.Key) != l.Key || ev.DataSchema != schema.LeadSchemaID {
			h.t.Fatalf("lead record headers do not name its raw event: %+v", ev)
		}
		out = append(out, leadRecord{key: string(r.Key), offset: r.Offset, lead: l, ev: ev})
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCommitted waits until the group has committed n raw records in all.
func (h *harness) waitCommitted(tb testing.TB, n int64, d time.Duration) {
	tb.Helper()
	adm := kadm.NewClient(h.producer)
	waitFor(tb, d, fmt.Sprintf("the group to commit %d raw records", n), func() bool {
		os, err := adm.FetchOffsets(tb.Context(), h.group)
		if err != nil {
			return false
		}
		var sum int64
		os.Each(func(o kadm.OffsetResponse) {
			if o.Topic == h.raw {
				sum += o.At
			}
		})
		return sum >= n
	})
}
