package enrich

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leadbridge/leadbridge/schema"
)

// scripted answers each call with the next of answers, then the last forever.
func scripted(calls *atomic.Int32, answers ...func() ([]byte, error)) fetcherFunc {
	return func(context.Context, string, string, string) ([]byte, error) {
		n := int(calls.Add(1)) - 1
		return answers[min(n, len(answers)-1)]()
	}
}

func fail(kind error, status int, retryAfter time.Duration) func() ([]byte, error) {
	return func() ([]byte, error) {
		return nil, &FetchError{Kind: kind, Status: status, RetryAfter: retryAfter, Err: errors.New("status " + strconv.Itoa(status))}
	}
}

func ok(body []byte) func() ([]byte, error) { return func() ([]byte, error) { return body, nil } }

// Retryable failures are retried with backoff, a 429's Retry-After is
// honoured, and the lead then gets its record.
func TestRetryThenRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		u := newUnit(t, scripted(&calls, fail(ErrUnavailable, 500, 0), fail(ErrUnavailable, 503, 0),
			fail(ErrThrottled, 429, 1500*time.Millisecond), ok(leadBody("L1", "2026-01-02T00:00:00Z"))))
		start := time.Now()
		u.aurora("lead_created", "L1")
		u.wait()
		if got := len(u.leads(t)); got != 1 || calls.Load() != 4 {
			t.Fatalf("%d records after %d calls, want 1 after 4", got, calls.Load())
		}
		// The backoffs of the first two tries are at most 0.3 s together.
		if took := time.Since(start); took < 1500*time.Millisecond {
			t.Fatalf("done after %v: the 429's Retry-After of 1.5s was not honoured", took)
		}
		if len(u.dlqReasons()) != 0 {
			t.Fatalf("DLQ: %v", u.dlqReasons())
		}
	})
}

// Each failure that does not heal ends in the DLQ with its reason, after
// the time its policy allows and not before; the last try comes when that
// time is up (or when a 429's Retry-After says), not a backoff later.
func TestFailurePolicies(t *testing.T) {
	for name, tc := range map[string]struct {
		answer           func() ([]byte, error)
		reason           string
		minWait, maxWait time.Duration // virtual time before the DLQ
		maxCalls         int32
	}{
		"401 at once":          {fail(ErrUnauthorized, 401, 0), "unauthorized", 0, 0, 1},
		"404 for a while":      {fail(ErrNotFound, 404, 0), "not_found", 20 * time.Second, 20*time.Second + 100*time.Millisecond, 100},
		"5xx until retry_for":  {fail(ErrUnavailable, 503, 0), "retries_exhausted", time.Minute, time.Minute + 100*time.Millisecond, 100},
		"429 until retry_for":  {fail(ErrThrottled, 429, time.Second), "retries_exhausted", time.Minute, time.Minute + 1100*time.Millisecond, 100},
		"unknown is permanent": {func() ([]byte, error) { return nil, errors.New("boom") }, "permanent", 0, 0, 1},
		"not a lead body":      {ok([]byte(`{"no":"id"}`)), "unmappable", 0, 0, 1},
		"another lead's id":    {ok(leadBody("OTHER", "2026-01-02T00:00:00Z")), "id_mismatch", 0, 0, 1},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int32
				u := newUnit(t, scripted(&calls, tc.answer))
				start := time.Now()
				u.aurora("lead_changed", "L1")
				u.wait()
				took := time.Since(start)
				if got := u.dlqReasons(); !slices.Equal(got, []string{tc.reason}) {
					t.Fatalf("DLQ reasons %v, want [%s]", got, tc.reason)
				}
				if took < tc.minWait || took > tc.maxWait {
					t.Errorf("dead-lettered after %v, want between %v and %v", took, tc.minWait, tc.maxWait)
				}
				if calls.Load() > tc.maxCalls {
					t.Errorf("%d calls, want at most %d", calls.Load(), tc.maxCalls)
				}
				if len(u.leads(t)) != 0 {
					t.Error("a lead record was produced")
				}
			})
		})
	}
}

// Lead ids that cannot be one path segment, events without a lead id and
// LeadPro events of an unknown type go to the DLQ and never reach the API.
func TestUnusableEventsNeverReachTheAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		u := newUnit(t, scripted(&calls, ok(leadBody("x", "2026-01-02T00:00:00Z"))))
		for _, id := range []string{".", "..", "a/b", "../../admin", "a?b=1", "a%2Fb", "a b", string(make([]byte, 200))} {
			u.aurora("lead_changed", id)
		}
		u.aurora("lead_created", "")
		u.feed(schema.Event{ID: "lp-1", Source: schema.LeadProSource("9"), Type: schema.LeadProTypePrefix + "lead.deleted",
			Time: time.Now().UTC(), PartitionKey: schema.LeadProKey("9", "1"), Data: []byte(`{"event":"lead.deleted","data":{"id":1}}`)})
		u.feed(schema.Event{ID: "lp-2", Source: schema.LeadProSource("9"), Type: schema.LeadProTypePrefix + "lead.created",
			Time: time.Now().UTC(), PartitionKey: "leadpro:9", Data: []byte(`{"event":"lead.created","data":{}}`)})
		u.wait()
		want := map[string]int{"invalid_lead_id": 8, "no_lead_id": 2, "unknown_event": 1}
		got := map[string]int{}
		for _, r := range u.dlqReasons() {
			got[r]++
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: %d in the DLQ, want %d (all: %v)", k, got[k], n, got)
			}
		}
		if calls.Load() != 0 {
			t.Fatalf("%d API calls for unusable events", calls.Load())
		}
		if u.part.outstanding() != 0 {
			if _, ok := u.part.committable(); !ok || u.part.outstanding() != 0 {
				t.Fatal("unusable events were not marked done: the partition would stall")
			}
		}
	})
}

// A lead_converted webhook whose project the API does not show yet is API
// lag: retried like a 404, then the record carries the webhook's project.
func TestConvertedLag(t *testing.T) {
	t.Run("the API catches up", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var calls atomic.Int32
			u := newUnit(t, scripted(&calls, ok(leadBody("L1", "2026-01-02T00:00:00Z")),
				ok(leadBody("L1", "2026-01-02T00:00:01Z", "project_id", "P-api"))))
			u.aurora("lead_converted", "L1", "project_id", "P-api")
			u.wait()
			l := u.leads(t)
			if len(l) != 1 || l[0].ProjectID != "P-api" || l[0].Status != schema.StatusConverted || calls.Load() != 2 {
				t.Fatalf("records %+v after %d calls", l, calls.Load())
			}
		})
	})
	t.Run("the API never shows it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var calls atomic.Int32
			u := newUnit(t, scripted(&calls, ok(leadBody("L1", "2026-01-02T00:00:00Z"))))
			start := time.Now()
			u.aurora("lead_converted", "L1", "project_id", "P-hook")
			u.wait()
			l := u.leads(t)
			if len(l) != 1 || l[0].ProjectID != "P-hook" || l[0].Status != schema.StatusConverted {
				t.Fatalf("records %+v: a converted lead must not read open", l)
			}
			if took := time.Since(start); took < 20*time.Second {
				t.Fatalf("gave up waiting for the API after %v, want not_found_retry_for (20s)", took)
			}
		})
	})
}

// Exactly-once, a lead still failing when its batch's time is up leaves for
// the retry topic, on its raw partition, with attempt, first-failure and
// not-before headers; back from there it carries on its count and clock,
// and still ends in the DLQ after retry_for, as the raw record it was: no
// retry headers, and the raw topic and offset as its origin.
func TestFailingLeadLeavesTheBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		u := newUnit(t, scripted(&calls, fail(ErrUnavailable, 503, 0)), func(c *Config) { c.RetryTopic = "retry" })
		u.e.batchEnd.Store(time.Now().Add(2 * time.Second).UnixNano())
		start := time.Now()
		u.aurora("lead_changed", "L1")
		u.wait()
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("the lead held its batch for %v, past the batch's 2s", took)
		}
		retried := u.out.topic("retry")
		if len(retried) != 1 || len(u.dlqReasons()) != 0 || len(u.leads(t)) != 0 {
			t.Fatalf("retry %d, DLQ %v, leads %d; want the lead in the retry topic only", len(retried), u.dlqReasons(), len(u.leads(t)))
		}
		r := retried[0]
		attempt, first, notBefore, ok := retryInfo(r)
		if !ok || attempt < 1 || first.IsZero() || !notBefore.After(first) || r.Partition != u.part.id {
			t.Fatalf("retry record headers: attempt %d first %v not-before %v partition %d", attempt, first, notBefore, r.Partition)
		}
		if _, err := schema.DecodeRecord(r); err != nil {
			t.Fatalf("the retry record lost its CloudEvent: %v", err)
		}
		// Back from the retry topic, batch after batch, until retry_for.
		for range 100 {
			u.e.batchEnd.Store(time.Now().Add(2 * time.Second).UnixNano())
			rec := u.out.topic("retry")
			last := rec[len(rec)-1]
			last.Offset = u.next
			u.next++
			u.e.dispatch(u.part, last)
			u.wait()
			if len(u.dlqReasons()) > 0 {
				break
			}
		}
		if got := u.dlqReasons(); len(got) != 1 || got[0] != "retries_exhausted" {
			t.Fatalf("DLQ %v, want retries_exhausted", got)
		}
		d := u.out.topic("dlq")[0]
		if from, off := schema.Header(d, schema.HeaderDLQTopic), schema.Header(d, schema.HeaderDLQOffset); from != "raw" || off != "0" {
			t.Errorf("the DLQ record names %s offset %s as its origin, want the raw record (raw offset 0)", from, off)
		}
		for _, k := range []string{schema.HeaderRetryAttempt, schema.HeaderRetryFirstFailure, schema.HeaderRetryNotBefore, schema.HeaderRetryRawOffset} {
			if schema.Header(d, k) != "" {
				t.Errorf("the DLQ record kept the retry header %s: a redrive would carry it back to raw", k)
			}
		}
		if took := time.Since(start); took < time.Minute {
			t.Fatalf("dead-lettered after %v, before retry_for (1m)", took)
		}
	})
}

// Exactly-once, a lead waiting out a backoff does not hold its batch: once
// every other record of the batch is done, it leaves for the retry topic at
// once, and the batch ends without waiting for its next attempt.
func TestSleepersDoNotHoldTheBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fetch := fetcherFunc(func(_ context.Context, _, _, id string) ([]byte, error) {
			if id == "BAD" {
				return fail(ErrUnavailable, 500, 0)()
			}
			time.Sleep(50 * time.Millisecond)
			return leadBody(id, "2026-01-02T00:00:00Z"), nil
		})
		u := newUnit(t, fetch, func(c *Config) { c.RetryTopic, c.BackoffBase, c.BackoffMax = "retry", time.Second, time.Second })
		u.e.batchEnd.Store(time.Now().Add(10 * time.Second).UnixNano())
		over := make(chan struct{})
		u.e.batchOver.Store(&over)
		start := time.Now()
		u.aurora("lead_changed", "BAD")
		u.aurora("lead_changed", "GOOD")
		if _, ok := u.e.waitBatch(t.Context(), []*partition{u.part}, over, nil, nil); !ok {
			t.Fatal("the batch did not complete")
		}
		if took := time.Since(start); took >= 500*time.Millisecond {
			t.Fatalf("the batch took %v: it waited for the failing lead's backoff (at least 500ms)", took)
		}
		u.wait()
		if len(u.leads(t)) != 1 || len(u.out.topic("retry")) != 1 || len(u.dlqReasons()) != 0 {
			t.Fatalf("leads %d, retry %d, DLQ %v; want the good lead's record and the bad one in the retry topic",
				len(u.leads(t)), len(u.out.topic("retry")), u.dlqReasons())
		}
	})
}
