package ingest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/schema"
	"github.com/leadbridge/leadbridge/schema/golden"
)

// Every golden delivery, sent over real HTTP to a server publishing to the
// broker, is read back by a separate consumer: key, headers and value match
// the golden files, and the 200's id is the record's ce_id.
func TestDeliveriesOnBroker(t *testing.T) {
	b := kafkatest.Find(t)
	topic := kafkatest.Topic(t, b, "ingest-raw", 3, nil)
	producer := kafkatest.Client(t, b, kgo.DefaultProduceTopic(topic))
	srv := httptest.NewServer(NewServer(testConfig(), NewKafkaPublisher(producer, topic), zaptest.NewLogger(t)).Handler())
	t.Cleanup(srv.Close)

	ds := goldenDeliveries(t)
	ids := map[string]string{} // ce_id -> golden name
	for _, name := range sortedNames(ds) {
		d := ds[name]
		req, err := http.NewRequestWithContext(t.Context(), d.method, srv.URL+d.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d.body != "" {
			r := d.request()
			req.Body, req.ContentLength = r.Body, r.ContentLength
		}
		req.Header = d.header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d: %s", name, resp.StatusCode, body)
		}
		var ans struct{ ID string }
		if err := json.Unmarshal(body, &ans); err != nil || ans.ID == "" {
			t.Fatalf("%s: answer %s", name, body)
		}
		ids[ans.ID] = name
	}

	consumer := kafkatest.Client(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	seen := 0
	for seen < len(ds) {
		fs := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records before the deadline", seen, len(ds))
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			seen++
			id := schema.Header(r, schema.HeaderID)
			name, ok := ids[id]
			if !ok {
				t.Errorf("record with ce_id %q answered no request", id)
				return
			}
			delete(ids, id)
			golden.Check(t, name+".golden", []byte(renderRecord(t, r)))
		})
	}
	if len(ids) != 0 {
		t.Fatalf("acknowledged but not on the topic: %v", ids)
	}
}
