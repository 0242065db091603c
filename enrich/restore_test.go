package enrich

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/schema"
)

// A fetch of a state partition held up past the quiet time (a leader move,
// a broker restart, a starved machine) is not the end of the partition:
// restore asks the leader, learns that records are left, and waits for them
// instead of returning a short store (which would let duplicates and
// regressions through for every key it missed).
func TestRestoreWaitsOutAStalledFetch(t *testing.T) {
	const keys = 50
	br := kafkatest.RequireReal(t)
	compact := "compact"
	topic := kafkatest.Topic(t, br, "state", 1, map[string]*string{"cleanup.policy": &compact})
	p := kafkatest.Client(t, br, kgo.DefaultProduceTopic(topic))
	for i := range keys {
		produceState(t, p, fmt.Sprintf("aurora:%d", i))
	}
	stall := &stallFirstFetch{release: make(chan struct{})}
	t.Cleanup(stall.free)
	store, err := restoreState(t.Context(), []kgo.Opt{kgo.SeedBrokers(br.Seeds...), kgo.WithHooks(stall)}, topic, 0)
	stall.free()
	if err != nil {
		t.Fatal(err)
	}
	if !stall.held.Load() {
		t.Fatal("no fetch was held up: the test did not stall the restore")
	}
	if store.len() != keys {
		t.Fatalf("restored %d keys of %d: a stalled fetch was taken for the end of the partition", store.len(), keys)
	}
}

// A fetch that never comes back fails the restore (and so restarts the
// member) rather than give a short store, though the leader answers.
func TestRestoreFailsOnAFetchThatNeverComes(t *testing.T) {
	br := kafkatest.RequireReal(t)
	compact := "compact"
	topic := kafkatest.Topic(t, br, "state", 1, map[string]*string{"cleanup.policy": &compact})
	produceState(t, kafkatest.Client(t, br, kgo.DefaultProduceTopic(topic)), "aurora:1")
	stall := &stallFirstFetch{release: make(chan struct{}), untilFree: true}
	t.Cleanup(stall.free)
	store, err := restoreState(t.Context(), []kgo.Opt{kgo.SeedBrokers(br.Seeds...), kgo.WithHooks(stall)}, topic, 0)
	stall.free()
	if err == nil {
		t.Fatalf("restore returned %d keys and no error while its fetch was held up", store.len())
	}
	t.Log(err)
}

// stallFirstFetch holds up the first fetch response a client reads (kgo
// calls OnBrokerRead before it hands the response on) until a later fetch
// is read (unless untilFree), or free: the restore's consumer sees nothing
// for as long as it waits, while another client can still ask the broker.
type stallFirstFetch struct {
	untilFree bool
	fetches   atomic.Int32
	held      atomic.Bool
	release   chan struct{}
	once      sync.Once
}

func (s *stallFirstFetch) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, _ error) {
	if key != int16(kmsg.Fetch) {
		return
	}
	if s.fetches.Add(1) == 1 {
		s.held.Store(true)
		<-s.release
		return
	}
	if !s.untilFree {
		s.free()
	}
}

func (s *stallFirstFetch) free() { s.once.Do(func() { close(s.release) }) }

// A compacted state partition can end before its last stable offset: here
// an expired tombstone (and the record it deleted) are gone, and the next
// offset is an open transaction's. Restore asks the leader, which has
// nothing left below the end, and returns the store (no error, no wait for
// records that will never come). kfake, because a real broker's cleaner
// cannot be made to clean a partition's tail on cue.
func TestRestoreCompactedTail(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seeds := kgo.SeedBrokers(c.ListenAddrs()...)
	cl, err := kgo.NewClient(seeds, kgo.DefaultProduceTopic("state"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	compact, zero := "compact", "0"
	if _, err := kadm.NewClient(cl).CreateTopic(t.Context(), 1, 1,
		map[string]*string{"cleanup.policy": &compact, "delete.retention.ms": &zero}, "state"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		produceState(t, cl, fmt.Sprintf("aurora:%d", i))
	}
	produceState(t, cl, "aurora:gone")
	if err := cl.ProduceSync(t.Context(), &kgo.Record{Key: []byte("aurora:gone")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tx, err := kgo.NewClient(seeds, kgo.DefaultProduceTopic("state"), kgo.TransactionalID("open"))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produceState(t, tx, "aurora:open") // never committed: the last stable offset stays before it
	c.Compact()

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, end, err := stableEnd(ctx, cl, "state", 0)
	if err != nil {
		t.Fatal(err)
	}
	if end != 7 {
		t.Fatalf("set-up: last stable offset %d, want 7 (before the open transaction)", end)
	}
	// The leader has record 4, and nothing from 5 (the compacted tail) to 7.
	if done, err := drained(ctx, []kgo.Opt{seeds}, "state", 0, 4, end); done || err != nil {
		t.Fatalf("drained from offset 4 = %v, %v; want false: record 4 is left", done, err)
	}
	if done, err := drained(ctx, []kgo.Opt{seeds}, "state", 0, 5, end); !done || err != nil {
		t.Fatalf("drained from offset 5 = %v, %v; want true: the tail from 5 was compacted away", done, err)
	}
	store, err := restoreState(ctx, []kgo.Opt{seeds}, "state", 0)
	if err != nil {
		t.Fatalf("a compacted tail was not accepted: %v", err)
	}
	if _, ok := store.get(idOf("aurora:gone")); store.len() != 5 || ok {
		t.Fatalf("restored %d keys (deleted key there: %v), want the 5 that are left", store.len(), ok)
	}
}

func produceState(t *testing.T, cl *kgo.Client, key string) {
	t.Helper()
	v := schema.EncodeLeadState(schema.LeadState{UpdatedAt: time.Unix(1_700_000_000, 0), Hash: [16]byte{1}})
	if err := cl.ProduceSync(t.Context(), &kgo.Record{Key: []byte(key), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}
