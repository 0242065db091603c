package schema

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// LeadState is what enrich remembers of one lead key, durably: the value of
// a record on the compacted state topic, keyed by the lead key (AuroraKey or
// LeadProKey). The state topic has as many partitions as the raw topic, and
// the state of a key lives in the partition number of the raw record it
// came from (the same partition the default key partitioner picks for the
// key), so a member restores exactly the keys of the raw partitions it owns.
// Enrich writes it in the transaction that writes the lead record.
type LeadState struct {
	// UpdatedAt is the newest provider updated_at produced for the key; zero
	// when the provider states none (LeadPro).
	UpdatedAt time.Time
	// Hash identifies the content of the last lead record produced for the
	// key, without its source_event; zero when none was produced.
	Hash [16]byte
	// Erased marks a forgotten lead (a GDPR erasure): no lead record is
	// produced for the key again.
	Erased bool
	// Source is the lead's source as the provider last sent it (Lead.Source);
	// empty when it never did. Aurora sends it with lead_created only, so a
	// later record of the key carries it from here.
	Source string
}

type leadStateJSON struct {
	UpdatedAt string `json:"updated_at,omitempty"`
	Hash      string `json:"hash,omitempty"`
	Erased    bool   `json:"erased,omitempty"`
	Source    string `json:"source,omitempty"`
}

// EncodeLeadState is the state record's value: a small JSON object, so an
// operator can read it with any consumer.
func EncodeLeadState(s LeadState) []byte {
	j := leadStateJSON{Erased: s.Erased, Source: s.Source}
	if !s.UpdatedAt.IsZero() {
		j.UpdatedAt = s.UpdatedAt.UTC().Format(time.RFC3339Nano)
	}
	if s.Hash != ([16]byte{}) {
		j.Hash = hex.EncodeToString(s.Hash[:])
	}
	b, _ := json.Marshal(j) // strings and a bool: cannot fail
	return b
}

// DecodeLeadState reads a state record's value. A nil value (a tombstone)
// is the zero state.
func DecodeLeadState(b []byte) (LeadState, error) {
	var s LeadState
	if b == nil {
		return s, nil
	}
	var j leadStateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return s, fmt.Errorf("lead state: %w", err)
	}
	s.Erased, s.Source = j.Erased, j.Source
	if j.UpdatedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, j.UpdatedAt)
		if err != nil {
			return s, fmt.Errorf("lead state: updated_at: %w", err)
		}
		s.UpdatedAt = t
	}
	if j.Hash != "" {
		h, err := hex.DecodeString(j.Hash)
		if err != nil || len(h) != len(s.Hash) {
			return s, fmt.Errorf("lead state: hash is not %d hex bytes", len(s.Hash))
		}
		copy(s.Hash[:], h)
	}
	return s, nil
}
