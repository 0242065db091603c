package main

import (
	"testing"
	"time"
)

// A duration is kept beside the time it resolves to (dlq redrive names its
// group by it); an RFC 3339 time has none.
func TestTimeFlagKeepsTheDuration(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	f := timeFlag{now: func() time.Time { return now }}
	if err := f.Set("2h"); err != nil || !f.t.Equal(now.Add(-2*time.Hour)) || f.ago != 2*time.Hour {
		t.Fatalf("2h: %v, %v, %v", f.t, f.ago, err)
	}
	if err := f.Set("2026-11-30T04:00:00Z"); err != nil || !f.t.Equal(time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)) || f.ago != 0 {
		t.Fatalf("RFC 3339: %v, %v, %v", f.t, f.ago, err)
	}
	if err := f.Set("-1h"); err == nil {
		t.Fatal("a negative duration was taken")
	}
}
