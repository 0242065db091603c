package enrich

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The commit point moves only over a done prefix, whatever order records
// finish in, and a failed commit is offered again.
func TestPartitionCommitPoint(t *testing.T) {
	p := newPartition(context.Background(), "raw", 0, newStateStore(0))
	var es []*entry
	for off := int64(10); off < 15; off++ {
		es = append(es, p.add(&kgo.Record{Offset: off, LeaderEpoch: 3}))
	}
	if _, ok := p.committable(); ok {
		t.Fatal("nothing done, yet committable")
	}
	p.finish(es[1])
	p.finish(es[3])
	if _, ok := p.committable(); ok {
		t.Fatal("committable past an unfinished record")
	}
	p.finish(es[0])
	eo, ok := p.committable()
	if !ok || eo.Offset != 12 || eo.Epoch != 3 {
		t.Fatalf("got %+v %v, want offset 12 (after 10 and 11)", eo, ok)
	}
	// the commit failed: offered again
	if eo, ok := p.committable(); !ok || eo.Offset != 12 {
		t.Fatalf("a failed commit was not offered again: %+v %v", eo, ok)
	}
	p.committedAt(12)
	if _, ok := p.committable(); ok {
		t.Fatal("offered an offset the group already has")
	}
	p.finish(es[2])
	p.finish(es[4])
	if eo, ok := p.committable(); !ok || eo.Offset != 15 || p.outstanding() != 0 {
		t.Fatalf("got %+v %v with %d outstanding", eo, ok, p.outstanding())
	}
}

// A revoked partition refuses new produces and waits for those in flight.
func TestPartitionRevokeWaitsForProduces(t *testing.T) {
	p := newPartition(context.Background(), "raw", 0, newStateStore(0))
	if !p.beginProduce() {
		t.Fatal("a live partition refused a produce")
	}
	revoked := make(chan struct{})
	go func() { p.revoke(); close(revoked) }()
	select {
	case <-revoked:
		t.Fatal("revoke returned with a produce in flight")
	case <-p.ctx.Done():
	}
	p.endProduce()
	<-revoked
	if p.beginProduce() {
		t.Fatal("a revoked partition accepted a produce")
	}
}
