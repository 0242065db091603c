package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/schema"
)

// Publisher is all ingest needs from Kafka. Publish returns nil only after the
// broker acknowledged the event; it returns when ctx is done at the latest.
type Publisher interface {
	Publish(ctx context.Context, ev schema.Event) error
}

// KafkaPublisher publishes events to one topic with a franz-go client built by
// the caller (acks=all and idempotence are kgo's defaults; the caller sets
// kgo.MaxBufferedBytes to bound memory). It is safe for concurrent use.
type KafkaPublisher struct {
	client *kgo.Client
	topic  string
}

var _ Publisher = (*KafkaPublisher)(nil)

// NewKafkaPublisher returns a Publisher writing to topic through client.
func NewKafkaPublisher(client *kgo.Client, topic string) *KafkaPublisher {
	return &KafkaPublisher{client: client, topic: topic}
}

// Publish produces ev and waits for the broker's acknowledgement or ctx. When
// the client's buffer is full it fails at once with ErrOverloaded rather than
// queueing; when ctx ends first it returns an ErrUnavailable (the record may
// still land later: the provider's retry then makes a duplicate, never a loss).
//
// ctx should not be the HTTP request's own context: kgo fails a whole batch
// when the first record's context is canceled, so one client hanging up would
// fail its neighbours. Handlers pass a context with only the ack deadline.
func (p *KafkaPublisher) Publish(ctx context.Context, ev schema.Event) error {
	r := ev.Record()
	r.Topic = p.topic
	w := ackWaiters.Get().(*ackWaiter)
	p.client.TryProduce(ctx, r, w.promise)
	select {
	case err := <-w.done:
		ackWaiters.Put(w)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, kgo.ErrMaxBuffered):
			return ErrOverloaded
		case errors.Is(err, kerr.MessageTooLarge):
			// Retrying cannot help: answer 413, not a 503 the provider retries forever.
			return fmt.Errorf("%w: event over the topic's max.message.bytes", ErrTooLarge)
		default: // timeouts, broker errors, client closing: all worth a retry
			return fmt.Errorf("%w: produce raw event: %w", ErrUnavailable, err)
		}
	case <-ctx.Done():
		// w is left to the promise, which still comes: never reused.
		return fmt.Errorf("%w: no broker ack in time: %w", ErrUnavailable, ctx.Err())
	}
}

// ackWaiter carries one record's acknowledgement from kgo's promise to
// Publish. Waiters are reused: a channel and a closure per delivery were
// two allocations on every webhook.
type ackWaiter struct {
	done    chan error // buffered: the promise never blocks
	promise func(*kgo.Record, error)
}

var ackWaiters = sync.Pool{New: func() any {
	w := &ackWaiter{done: make(chan error, 1)}
	w.promise = func(_ *kgo.Record, err error) { w.done <- err }
	return w
}}

// BufferedBytes reports the bytes buffered in the client, waiting for acks.
func (p *KafkaPublisher) BufferedBytes() int64 { return p.client.BufferedProduceBytes() }
