package enrich

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// partition tracks the records of one owned partition from poll to commit.
// Records complete in any order; the commit point only moves over a prefix of
// completed records. It is safe for concurrent use.
type partition struct {
	topic string
	id    int32
	ctx   context.Context // canceled when the partition is revoked or lost
	stop  context.CancelFunc

	mu        sync.Mutex
	entries   []*entry // outstanding, in offset order
	revoked   bool
	mark      kgo.EpochOffset // the next offset after the done prefix
	committed int64           // the last offset the group acknowledged; -1 none
	producing sync.WaitGroup  // produces in flight for records of this partition

	state *stateStore // the partition's lead keys
}

type entry struct {
	offset int64
	epoch  int32
	done   bool
}

func newPartition(parent context.Context, topic string, id int32, state *stateStore) *partition {
	ctx, cancel := context.WithCancel(parent)
	return &partition{topic: topic, id: id, ctx: ctx, stop: cancel, mark: kgo.EpochOffset{Epoch: -1, Offset: -1}, committed: -1,
		state: state}
}

// add registers a polled record; records must be added in offset order.
func (p *partition) add(r *kgo.Record) *entry {
	e := &entry{offset: r.Offset, epoch: r.LeaderEpoch}
	p.mu.Lock()
	p.entries = append(p.entries, e)
	p.mu.Unlock()
	return e
}

// finish marks e done.
func (p *partition) finish(e *entry) {
	p.mu.Lock()
	e.done = true
	p.mu.Unlock()
}

// committable pops the done prefix and returns the offset to commit (the
// next record to read); ok=false when the group already has it. A commit
// that failed is offered again until one succeeds (see committedAt).
func (p *partition) committable() (kgo.EpochOffset, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(p.entries) && p.entries[n].done {
		n++
	}
	if n > 0 {
		last := p.entries[n-1]
		p.entries = p.entries[n:]
		p.mark = kgo.EpochOffset{Epoch: last.epoch, Offset: last.offset + 1}
	}
	return p.mark, p.mark.Offset > p.committed
}

// committedAt records that the group acknowledged offset.
func (p *partition) committedAt(offset int64) {
	p.mu.Lock()
	p.committed = max(p.committed, offset)
	p.mu.Unlock()
}

// outstanding is the number of polled records not yet committable.
func (p *partition) outstanding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.entries)
}

// beginProduce reserves the right to produce for a record of p; it fails once
// p is revoked, so a member that lost a partition never writes a lead record
// after the new owner may have written a newer one.
func (p *partition) beginProduce() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.revoked {
		return false
	}
	p.producing.Add(1)
	return true
}

func (p *partition) endProduce() { p.producing.Done() }

// revoke cancels the partition's work and waits for its produces in flight.
func (p *partition) revoke() {
	p.mu.Lock()
	p.revoked = true
	p.mu.Unlock()
	p.stop()
	p.producing.Wait()
}

// unfinished is the number of polled records not done yet.
func (p *partition) unfinished() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, e := range p.entries {
		if !e.done {
			n++
		}
	}
	return n
}

// settle ends a transaction over p's polled records: committed, they leave
// (their offsets are committed); aborted, they are forgotten, since the
// session rewinds to the committed offsets and they are polled again. The
// key state's pending changes follow the same fate.
func (p *partition) settle(committed bool) {
	p.mu.Lock()
	if committed {
		n := 0
		for n < len(p.entries) && p.entries[n].done {
			n++
		}
		p.entries = p.entries[n:]
	} else {
		p.entries = nil
	}
	p.mu.Unlock()
	if p.state != nil {
		p.state.settle(committed)
	}
}
