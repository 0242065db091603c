package ingest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/schema"
)

// With the producer's buffer full, Publish answers ErrOverloaded at once
// instead of queueing; a record the broker never acknowledges is an
// ErrUnavailable when the deadline passes. The broker here accepts
// connections and never answers, so nothing is ever acknowledged.
func TestKafkaPublisherBoundsMemory(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold the connection, say nothing
		}
	}()
	client, err := kgo.NewClient(kgo.SeedBrokers(ln.Addr().String()), kgo.MaxBufferedRecords(1))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	pub := NewKafkaPublisher(client, "raw")
	ev := schema.Event{ID: "1", Source: "/s", Type: "t", Time: time.Now(), PartitionKey: "k", Data: []byte(`{}`)}

	first := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		first <- pub.Publish(ctx, ev)
	}()
	time.Sleep(200 * time.Millisecond) // the first record is buffered by now
	start := time.Now()
	err = pub.Publish(context.Background(), ev)
	if !errors.Is(err, ErrOverloaded) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("second publish with a full buffer: %v, want ErrOverloaded", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("a full buffer made Publish wait instead of failing at once")
	}
	if err := <-first; !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unacknowledged publish: %v, want ErrUnavailable", err)
	}
}
