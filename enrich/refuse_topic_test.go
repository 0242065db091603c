package enrich_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

// leadProWithNotes is a LeadPro lead.created event for lead 77 with notes.
func leadProWithNotes(notes string) schema.Event {
	data := `{"event":"lead.created","data":{"id":77,"full_name":"Ada Lovelace","notes":"` + notes + `"}}`
	return schema.Event{ID: uuid.Must(uuid.NewV7()).String(), Source: schema.LeadProSource("9999"),
		Type: schema.LeadProTypePrefix + "lead.created", Subject: "77", Time: time.Now().UTC(),
		PartitionKey: schema.LeadProKey("9999", "77"), Data: json.RawMessage(data)}
}

// A lead record that compresses (snappy, kgo's default) under the leads
// topic's max.message.bytes is accepted by the brokers, so it is produced:
// bounding kgo's batches by max.message.bytes (kgo compares the size before
// compression) refused it in the client and dead-lettered a healthy lead.
func TestCompressibleLeadUnderTheLimitIsProduced(t *testing.T) {
	modes(t, func(t *testing.T, alo bool) {
		h := newHarness(t, 1, 1, sandbox.Options{})
		compact, limit := "compact", "20000"
		h.leads = kafkatest.Topic(t, h.b, "leads-small", 1, map[string]*string{"cleanup.policy": &compact, "max.message.bytes": &limit})
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		// The broker itself takes such a record on this topic.
		probe := kafkatest.Client(t, h.b)
		if err := probe.ProduceSync(ctx, &kgo.Record{Topic: h.leads, Key: []byte("probe"), Value: []byte(strings.Repeat("x", 60_000))}).FirstErr(); err != nil {
			t.Fatalf("the broker refuses a compressible 60 kB record at max.message.bytes=20000: %v", err)
		}
		h.produceRaw(ctx, leadProWithNotes(strings.Repeat("x", 60_000)))
		h.start("c1", func(c *enrich.Config) { c.AtLeastOnce = alo })
		h.waitCommitted(t, 1, 30*time.Second)
		var leads int
		for _, r := range h.readAll(ctx, h.leads, 1, 300*time.Millisecond) {
			if string(r.Key) == schema.LeadProKey("9999", "77") {
				leads++
			}
		}
		dlq := h.readAll(ctx, h.dlq, 0, 300*time.Millisecond)
		if leads != 1 || len(dlq) != 0 {
			reason := ""
			if len(dlq) > 0 {
				reason = schema.Header(dlq[0], schema.HeaderDLQReason) + ": " + schema.Header(dlq[0], schema.HeaderDLQError)
			}
			t.Fatalf("%d lead records and %d DLQ records (%s), want the lead's record and no DLQ record", leads, len(dlq), reason)
		}
	})
}

// A topic's own error (here an invalid DLQ topic name,
// INVALID_TOPIC_EXCEPTION; an ACL's TOPIC_AUTHORIZATION_FAILED takes the
// same path) refuses every record alike: it is not a record refused for
// good, so none is given up. The raw record's offset stays uncommitted (it
// is neither on leads nor in the DLQ) while the member keeps failing, for
// as long as this test watches.
func TestTopicErrorDoesNotLoseRecords(t *testing.T) {
	h := newHarness(t, 1, 1, sandbox.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r := &kgo.Record{Topic: h.raw, Key: []byte("k"), Value: []byte("not a cloudevent")}
	if err := h.producer.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	h.start("d1", func(c *enrich.Config) { c.AtLeastOnce = true; c.DLQTopic = "review/bad topic" })
	adm := kadm.NewClient(h.producer)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		os, err := adm.FetchOffsets(ctx, h.group)
		if err == nil {
			var at int64
			os.Each(func(o kadm.OffsetResponse) {
				if o.Topic == h.raw {
					at += o.At
				}
			})
			if at >= 1 {
				t.Fatalf("the raw record's offset was committed although neither leads nor the DLQ has it (lost)")
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// An error of the leads topic itself (here an invalid name; an ACL's
// TOPIC_AUTHORIZATION_FAILED takes the same path) refuses every lead
// record alike: at-least-once the lead is produced again, never
// dead-lettered as unproducible, and its raw offset stays uncommitted until
// the topic is fixed, for as long as this test watches.
func TestLeadsTopicErrorIsNotDeadLettered(t *testing.T) {
	h := newHarness(t, 1, 1, sandbox.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	h.produceRaw(ctx, leadProWithNotes("a short note"))
	h.start("e1", func(c *enrich.Config) { c.AtLeastOnce = true; c.LeadsTopic = "review/bad leads" })
	adm := kadm.NewClient(h.producer)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ends, err := adm.ListEndOffsets(ctx, h.dlq); err == nil {
			if o, ok := ends.Lookup(h.dlq, 0); ok && o.Offset > 0 {
				t.Fatalf("the lead was dead-lettered for an error of the leads topic itself")
			}
		}
		if os, err := adm.FetchOffsets(ctx, h.group); err == nil {
			if o, ok := os.Lookup(h.raw, 0); ok && o.At >= 1 {
				t.Fatalf("the raw record's offset was committed although leads does not have it")
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A member whose transactional id another producer fences, as fenceZombie
// does to a member whose partitions the group gave away while a broker
// failure held its transaction open, is alive: it restarts with a new
// client and carries on. (It stopped for good, and in a 3-broker run both
// members of the group ended that way or by a crash, and no lead moved.)
func TestFencedMemberRestarts(t *testing.T) {
	h := newHarness(t, 1, 1, sandbox.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	id := "fenced-" + h.group
	m := h.start("e1", func(c *enrich.Config) { c.TransactionalID = id })
	h.produceRaw(ctx, leadProWithNotes("first"))
	h.waitCommitted(t, 1, 30*time.Second)
	z := kafkatest.Client(t, h.b, kgo.TransactionalID(id))
	if _, _, err := z.ProducerID(ctx); err != nil { // fences the member's epoch
		t.Fatal(err)
	}
	z.Close()
	h.produceRaw(ctx, leadProWithNotes("second"))
	h.waitCommitted(t, 2, 60*time.Second)
	select {
	case <-m.done:
		t.Fatal("the fenced member stopped")
	default:
	}
}

// A transaction that runs past transaction_timeout is aborted by the
// brokers, which bump its epoch: its End fails with INVALID_PRODUCER_EPOCH
// (a fence is PRODUCER_FENCED). No other producer has the member's
// transactional id, so it is no fence: the member restarts and carries on
// however often that happens (a broker failure holding the flush, a rolling
// restart). Here an API call that outlasts its context holds each
// transaction past its timeout, with the batch's records already written.
// (Counted as fences, the third within 10 minutes stopped the member for good.)
func TestTimedOutTransactionsDoNotStopTheMember(t *testing.T) {
	h := newHarness(t, 1, 1, sandbox.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	id := "timeout-" + h.group
	lead := h.api.PutLead("tenant-0", newLead(1))
	var holding atomic.Bool
	var held atomic.Int32
	release := make(chan struct{})
	hold := func(f enrich.LeadFetcher) enrich.LeadFetcher {
		return fetcherFunc(func(ctx context.Context, tenant, token, leadID string) ([]byte, error) {
			if holding.Load() {
				held.Add(1)
				<-release // past the batch and the transaction timeout
				ctx = context.Background()
			}
			return f.RetrieveLead(ctx, tenant, token, leadID)
		})
	}
	m := h.startWith("t1", hold, func(c *enrich.Config) {
		c.TransactionalID, c.TransactionTimeout, c.BatchFor = id, 2*time.Second, time.Second
	})
	h.auroraEvent(ctx, "tenant-0", "lead_created", lead)
	h.waitCommitted(t, 1, 30*time.Second)

	// One batch: a LeadPro lead, written at once (the transaction is open
	// on the brokers), and the Aurora lead again, unchanged (nothing more
	// to write once its call returns).
	holding.Store(true)
	data, _ := json.Marshal(schema.AuroraData{Event: "lead_changed", TenantID: "tenant-0", Attributes: map[string]string{"lead_id": lead}})
	again := schema.Event{ID: uuid.Must(uuid.NewV7()).String(), Source: schema.AuroraSource("tenant-0"),
		Type: schema.AuroraTypePrefix + "lead_changed", Subject: lead, Time: time.Now().UTC(),
		PartitionKey: schema.AuroraKey("tenant-0", lead), Data: data}
	lp, au := leadProWithNotes("held").Record(), again.Record()
	lp.Topic, au.Topic = h.raw, h.raw
	if err := h.producer.ProduceSync(ctx, lp, au).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(h.producer)
	state := func() string {
		d, err := adm.DescribeTransactions(ctx, id)
		if err != nil {
			return ""
		}
		return d[id].State
	}
	for round := range enrich.MaxFences {
		waitFor(t, time.Minute, "the held call and its open transaction", func() bool {
			return held.Load() > int32(round) && state() == "Ongoing"
		})
		waitFor(t, time.Minute, "the brokers to time the transaction out", func() bool { return state() != "Ongoing" })
		if round == enrich.MaxFences-1 {
			holding.Store(false)
		}
		release <- struct{}{}
	}
	stopped := false
	waitFor(t, time.Minute, "the batch to commit, or the member to stop", func() bool {
		select {
		case <-m.done:
			stopped = true
			return true
		default:
		}
		os, err := adm.FetchOffsets(ctx, h.group)
		if err != nil {
			return false
		}
		o, ok := os.Lookup(h.raw, 0)
		return ok && o.At >= 3
	})
	if stopped {
		t.Fatalf("the member stopped after %d transactions the brokers timed out, taken for fences", enrich.MaxFences)
	}
}
