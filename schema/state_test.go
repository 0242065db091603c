package schema

import (
	"testing"
	"time"
)

func TestLeadStateRoundTrip(t *testing.T) {
	for name, s := range map[string]LeadState{
		"zero":   {},
		"full":   {UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), Hash: [16]byte{1, 2, 3, 15: 0xff}},
		"erased": {Erased: true},
		"source": {Hash: [16]byte{9}, Source: "lcai"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeLeadState(EncodeLeadState(s))
			if err != nil || !got.UpdatedAt.Equal(s.UpdatedAt) || got.Hash != s.Hash || got.Erased != s.Erased || got.Source != s.Source {
				t.Fatalf("round trip: %+v, %v; want %+v", got, err, s)
			}
		})
	}
	if s, err := DecodeLeadState(nil); err != nil || s != (LeadState{}) {
		t.Fatalf("tombstone: %+v %v", s, err)
	}
	for name, b := range map[string]string{"not json": "x", "bad time": `{"updated_at":"yesterday"}`, "short hash": `{"hash":"abcd"}`} {
		if _, err := DecodeLeadState([]byte(b)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}
