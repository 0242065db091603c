package enrich

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/leadbridge/leadbridge/schema"
)

// keyID is a lead key's fixed-size identity in memory: sha256 truncated to
// 128 bits, so a key costs the same whatever its length and a collision is
// out of reach even for crafted ids.
type keyID [16]byte

func idOf(key string) keyID {
	h := sha256.Sum256([]byte(key))
	return keyID(h[:16])
}

// keyState is what enrich knows of one lead key: the newest provider
// updated_at produced (unix nanoseconds, 0 none), the content hash of the
// last record produced, the erased flag, and the source the provider sent.
type keyState struct {
	updated int64
	hash    [16]byte
	erased  bool
	source  string
}

// knownSources are the sources Aurora documents (lcai, api) and LeadPro's
// default, shared by every key that has one instead of a copy per key.
var knownSources = map[string]string{"lcai": "lcai", "api": "api", schema.LeadProDefaultSource: schema.LeadProDefaultSource}

func intern(s string) string {
	if k, ok := knownSources[s]; ok {
		return k
	}
	return s
}

func stateOf(s schema.LeadState) keyState {
	k := keyState{hash: s.Hash, erased: s.Erased, source: intern(s.Source)}
	if !s.UpdatedAt.IsZero() {
		k.updated = s.UpdatedAt.UnixNano()
	}
	return k
}

func (k keyState) lead() schema.LeadState {
	s := schema.LeadState{Hash: k.hash, Erased: k.erased, Source: k.source}
	if k.updated != 0 {
		s.UpdatedAt = time.Unix(0, k.updated).UTC()
	}
	return s
}

// stateStore holds the key states of one raw partition. At-least-once, it
// is a bounded memory (limit > 0: past it, arbitrary keys are forgotten,
// and a forgotten key only loses its guards until its next record).
// Exactly-once, it is restored from the state topic and unbounded (about
// 150 bytes a key, 148 measured by BenchmarkRestoreMillion), and what a transaction changes stays pending until
// the transaction commits. It is safe for concurrent use.
type stateStore struct {
	limit int

	mu      sync.Mutex
	m       map[keyID]keyState
	pending map[keyID]keyState // written in the open transaction
}

func newStateStore(limit int) *stateStore {
	return &stateStore{limit: limit, m: make(map[keyID]keyState)}
}

func (s *stateStore) get(id keyID) (keyState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.pending[id]; ok {
		return k, true
	}
	k, ok := s.m[id]
	return k, ok
}

// put records k for id: at once, or pending the transaction when txn is set.
func (s *stateStore) put(id keyID, k keyState, txn bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if txn {
		if s.pending == nil {
			s.pending = make(map[keyID]keyState)
		}
		s.pending[id] = k
		return
	}
	s.m[id] = k
	s.evict()
}

// settle ends a transaction: its changes become the state when it
// committed, and are forgotten when it aborted.
func (s *stateStore) settle(committed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if committed {
		for id, k := range s.pending {
			s.m[id] = k
		}
	}
	s.pending = nil
}

func (s *stateStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// evict forgets arbitrary keys (map order is random) down to 90% of the
// limit once it is passed. Erased keys are kept: forgetting one would let
// its next webhook re-create the lead.
func (s *stateStore) evict() {
	if s.limit <= 0 || len(s.m) <= s.limit {
		return
	}
	for id, k := range s.m {
		if k.erased {
			continue
		}
		delete(s.m, id)
		if len(s.m) <= s.limit*9/10 {
			return
		}
	}
}

// maxRemembered bounds an at-least-once member's memory of keys per partition.
const maxRemembered = 200_000
