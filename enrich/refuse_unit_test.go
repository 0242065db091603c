package enrich

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The records blamed for a refusal are those refused on the first refused
// record's topic and partition: kgo fails every other buffered record of a
// transactional producer with the same error afterwards.
func TestBlameFollowsTheFirstRefusedBatch(t *testing.T) {
	a, b, c := rawRef{"raw", 0, 1}, rawRef{"raw", 0, 2}, rawRef{"raw", 1, 7}
	tooLarge := fmt.Errorf("%w (uncompressed_bytes=60000)", kerr.MessageTooLarge)
	leads0 := &kgo.Record{Topic: "leads", Partition: 0}

	var l blameLog
	l.refused(leads0, []rawRef{a}, tooLarge, "dlq")
	l.refused(&kgo.Record{Topic: "state", Partition: 0}, nil, tooLarge, "dlq")         // failed after it
	l.refused(&kgo.Record{Topic: "leads", Partition: 1}, []rawRef{c}, tooLarge, "dlq") // another batch
	l.refused(leads0, []rawRef{b}, tooLarge, "dlq")                                    // a later batch of the same partition: not told apart
	l.refused(leads0, []rawRef{c}, context.Canceled, "dlq")                            // not a refusal
	got := l.take()
	if len(got) != 2 || got[a].code != kerr.MessageTooLarge.Message || got[b].dlq {
		t.Fatalf("blamed %+v, want a and b for MESSAGE_TOO_LARGE", got)
	}

	l.reset()
	l.refused(&kgo.Record{Topic: "state", Partition: 0}, nil, kerr.TopicAuthorizationFailed, "dlq")
	l.refused(leads0, []rawRef{a}, kerr.TopicAuthorizationFailed, "dlq")
	if got := l.take(); got != nil {
		t.Fatalf("a refused state record blamed %+v: the member's own records are nobody's fault", got)
	}

	l.reset()
	l.refused(&kgo.Record{Topic: "dlq", Partition: 0}, []rawRef{a}, kerr.MessageTooLarge, "dlq")
	if got := l.take(); !got[a].dlq {
		t.Fatalf("a refused DLQ record not noted: %+v", got)
	}
}

// One polled record blamed is certain: it takes a strike each time, and
// lookup hands it to the DLQ path. Several blamed are suspects: the member
// isolates them until each went through (forgotten) or was refused alone.
func TestRefusalsStrikesAndSuspects(t *testing.T) {
	a, b := rawRef{"raw", 0, 1}, rawRef{"raw", 0, 2}
	var r refusals
	r.ended(false, map[rawRef]blame{a: {code: "MESSAGE_TOO_LARGE"}, b: {code: "MESSAGE_TOO_LARGE"}}, false)
	if !r.isolate() {
		t.Fatal("two blamed records are not isolated")
	}
	if _, certain := r.lookup(a); certain {
		t.Fatal("a suspect is treated as certain")
	}
	r.lookup(b)
	r.ended(false, map[rawRef]blame{a: {code: "MESSAGE_TOO_LARGE"}}, true) // a refused alone
	f, certain := r.lookup(a)
	if !certain || f.strikes != 1 || f.dlq {
		t.Fatalf("a refused alone: %+v certain %v, want one strike", f, certain)
	}
	r.lookup(b)
	r.ended(true, nil, true) // b went through, a was dead-lettered
	if r.isolate() || len(r.m) != 0 {
		t.Fatalf("after a commit: %d remembered, isolate %v", len(r.m), r.isolate())
	}

	r.ended(false, map[rawRef]blame{a: {code: "MESSAGE_TOO_LARGE"}}, false)
	for i := 2; i <= maxStrikes; i++ {
		r.lookup(a)
		r.ended(false, map[rawRef]blame{a: {code: "MESSAGE_TOO_LARGE", dlq: true}}, false)
	}
	if f, _ := r.lookup(a); f.strikes != maxStrikes || !f.dlq {
		t.Fatalf("%+v after %d refusals", f, maxStrikes)
	}
}

// Suspects that never come back do not keep the member polling one record
// at a time: they are forgotten after maxIsolated transactions.
func TestRefusalsForgetLostSuspects(t *testing.T) {
	var r refusals
	r.ended(false, map[rawRef]blame{{"raw", 0, 1}: {}, {"raw", 1, 1}: {}}, false)
	r.forgetSuspectsNotIn(func(_ string, p int32) bool { return p == 0 })
	if len(r.m) != 1 {
		t.Fatalf("%d remembered, want the owned partition's suspect", len(r.m))
	}
	for i := 0; i <= maxIsolated && r.isolate(); i++ {
		r.ended(true, nil, true)
	}
	if r.isolate() {
		t.Fatalf("still isolating after %d transactions", maxIsolated+1)
	}
}
