package enrich

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A fenced member restarts, unless it was fenced maxFences times within
// fenceWindow (two processes with one transactional id fence each other
// forever) or may not use its transactional id at all.
func TestStopFenced(t *testing.T) {
	fence := fmt.Errorf("end: %w", kerr.ProducerFenced)
	e := &Enricher{}
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i := range maxFences - 1 {
		if e.stopFenced(fence, t0.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("fence %d stopped the member", i+1)
		}
	}
	if !e.stopFenced(fence, t0.Add(time.Duration(maxFences-1)*time.Minute)) {
		t.Fatalf("fence %d within %s did not stop the member", maxFences, fenceWindow)
	}
	spaced := &Enricher{}
	for i := range 2 * maxFences {
		if spaced.stopFenced(fence, t0.Add(time.Duration(i)*fenceWindow)) {
			t.Fatalf("fences %s apart stopped the member at the %d-th", fenceWindow, i+1)
		}
	}
	if !(&Enricher{}).stopFenced(fmt.Errorf("begin: %w", kerr.TransactionalIDAuthorizationFailed), t0) {
		t.Fatal("a transactional id the brokers refuse did not stop the member")
	}
}
