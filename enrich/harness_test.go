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
	"github.com/twmb/franz-go/pkg/kgo"
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
	group           string
	api             *sandbox.Server
	apiURL          string
	tokens          map[string]schema.Secret
	producer        *kgo.Client
	rawOffsets      sync.Map // ce_id -> raw offset (order checks)
	partitions      int32
	cfg             func(*enrich.Config)
}

func newHarness(t testing.TB, tenants int, partitions int32, opts sandbox.Options) *harness {
	t.Helper()
	b := kafkatest.Find(t)
	compact := "compact"
	h := &harness{t: t, b: b, partitions: partitions,
		raw:    kafkatest.Topic(t, b, "raw", partitions, nil),
		leads:  kafkatest.Topic(t, b, "leads", partitions, map[string]*string{"cleanup.policy": &compact}),
		dlq:    kafkatest.Topic(t, b, "dlq", 1, nil),
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
	cfg := enrich.Config{
		RawTopic: h.raw, LeadsTopic: h.leads, DLQTopic: h.dlq,
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
	e, err := enrich.New(cfg, aurora.NewClient(h.apiURL, nil, log), log)
	if err != nil {
		h.t.Fatal(err)
	}
	opts := append([]kgo.Opt{
		kgo.ConsumerGroup(h.group),
		kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond),
		kgo.ProducerLinger(0),
	}, e.ClientOpts()...)
	client := kafkatest.Client(h.t, h.b, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{e: e, client: client, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		_ = e.Run(ctx, client)
	}()
	h.t.Cleanup(m.stop)
	return m
}

// stop is a graceful shutdown: finish, commit, leave.
func (m *member) stop() {
	m.cancel()
	<-m.done
	m.client.LeaveGroup()
	m.client.Close()
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
		kgo.FetchMaxWait(200*time.Millisecond))
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
