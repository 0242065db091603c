package ingesttest

import (
	"context"
	"sync"

	"github.com/leadbridge/leadbridge/schema"
)

// Publisher is a fake ingest.Publisher. PublishFn, when set, decides each
// outcome; events that get a nil outcome are kept. Safe for concurrent use.
// (It does not import ingest, so ingest's own tests can use it.)
type Publisher struct {
	PublishFn func(ctx context.Context, ev schema.Event) error

	mu     sync.Mutex
	events []schema.Event
}

// Publish implements ingest.Publisher.
func (p *Publisher) Publish(ctx context.Context, ev schema.Event) error {
	if p.PublishFn != nil {
		if err := p.PublishFn(ctx, ev); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, ev)
	return nil
}

// Events returns the events published successfully, in order.
func (p *Publisher) Events() []schema.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]schema.Event(nil), p.events...)
}
