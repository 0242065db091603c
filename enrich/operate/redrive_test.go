package operate_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
	"github.com/leadbridge/leadbridge/enrich/operate"
	"github.com/leadbridge/leadbridge/schema"
)

// readAll returns every committed record of topic.
func readAll(t *testing.T, b kafkatest.Broker, topic string) []*kgo.Record {
	t.Helper()
	return kafkatest.ReadCommitted(t, b, topic)
}

// produceTx writes records in one committed transaction, as enrich writes
// the DLQ, so the topic holds transaction markers too.
func produceTx(t *testing.T, b kafkatest.Broker, rs ...*kgo.Record) {
	t.Helper()
	cl := kafkatest.Client(t, b, kgo.TransactionalID(fmt.Sprintf("test-dlq-%d", time.Now().UnixNano())))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(t.Context(), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
}

func redriveOpts(b kafkatest.Broker, raw, dlq string) operate.RedriveOptions {
	return operate.RedriveOptions{Kafka: []kgo.Opt{kgo.SeedBrokers(b.Seeds...)}, Topics: operate.Topics{Raw: raw, DLQ: dlq}}
}

func TestRedriveTwiceEachRecordOnce(t *testing.T) {
	b := kafkatest.RequireReal(t)
	raw := kafkatest.Topic(t, b, "redrive-raw", 3, nil)
	dlq := kafkatest.Topic(t, b, "redrive-dlq", 3, nil)
	cl := kafkatest.Client(t, b)
	var plain, tx []*kgo.Record
	for i := range 10 {
		reason := "not_found"
		if i >= 6 {
			reason = "unauthorized"
		}
		r := dlqRecord(dlq, fmt.Sprintf("aurora:t1:l%d", i), reason)
		if i%2 == 0 {
			plain = append(plain, r)
		} else {
			tx = append(tx, r)
		}
	}
	produce(t, cl, plain...)
	produceTx(t, b, tx...)
	originals := map[string]*kgo.Record{}
	for _, r := range append(plain, tx...) {
		originals[schema.Header(r, schema.HeaderID)] = r
	}

	opts := redriveOpts(b, raw, dlq)
	opts.Reasons = []string{"not_found"}
	opts.DryRun = true
	rep, err := operate.Redrive(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.WriteText(&out)
	if rep.Redriven != 6 || rep.ByReason["not_found"] != 6 || len(rep.ByKey) != 6 || rep.Scanned != 10 ||
		!strings.Contains(out.String(), "key aurora:t1:l0: 1") || !strings.Contains(out.String(), "dry run") {
		t.Fatalf("dry run: %+v\n%s", rep, out.String())
	}
	if n := len(readAll(t, b, raw)); n != 0 {
		t.Fatalf("dry run wrote %d records", n)
	}

	opts.DryRun = false
	for run := 1; run <= 2; run++ {
		rep, err := operate.Redrive(t.Context(), opts)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		want := 6
		if run == 2 {
			want = 0
		}
		t.Logf("run %d: %d redriven in %s", run, rep.Redriven, rep.Took)
		if rep.Redriven != want {
			t.Fatalf("run %d redrove %d, want %d", run, rep.Redriven, want)
		}
	}
	got := readAll(t, b, raw)
	if len(got) != 6 {
		t.Fatalf("raw holds %d records after two runs, want 6", len(got))
	}
	seen := map[string]bool{}
	for _, r := range got {
		id := schema.Header(r, schema.HeaderID)
		orig, ok := originals[id]
		switch {
		case !ok || seen[id]:
			t.Fatalf("ce_id %q unknown or twice", id)
		case schema.Header(orig, schema.HeaderDLQReason) != "not_found":
			t.Errorf("%s was redriven with reason %s", id, schema.Header(orig, schema.HeaderDLQReason))
		case !bytes.Equal(r.Value, orig.Value) || !bytes.Equal(r.Key, orig.Key):
			t.Errorf("%s: key or value changed", id)
		case schema.Header(r, schema.HeaderRedriveCount) != "1" || schema.Header(r, schema.HeaderDLQReason) != "":
			t.Errorf("%s: headers %v", id, r.Headers)
		}
		seen[id] = true
		if _, err := schema.DecodeRecord(r); err != nil {
			t.Errorf("%s is no longer a CloudEvent: %v", id, err)
		}
	}

	// A record dead-lettered again after a redrive counts up; a new one is
	// picked up by the next run of the same redrive.
	again := dlqRecord(dlq, "aurora:t1:l0", "not_found")
	again.Headers = append(again.Headers, kgo.RecordHeader{Key: schema.HeaderRedriveCount, Value: []byte("1")})
	produce(t, cl, again)
	rep, err = operate.Redrive(t.Context(), opts)
	if err != nil || rep.Redriven != 1 {
		t.Fatalf("third run: %v, %d redriven", err, rep.Redriven)
	}
	got = readAll(t, b, raw)
	if len(got) != 7 || schema.Header(got[len(got)-1], schema.HeaderRedriveCount) != "2" && countHeader(got, "2") != 1 {
		t.Fatalf("after the third run: %d records, redrive counts %v", len(got), headers(got, schema.HeaderRedriveCount))
	}
}

func countHeader(rs []*kgo.Record, v string) int {
	n := 0
	for _, r := range rs {
		if schema.Header(r, schema.HeaderRedriveCount) == v {
			n++
		}
	}
	return n
}

func headers(rs []*kgo.Record, key string) []string {
	var out []string
	for _, r := range rs {
		out = append(out, schema.Header(r, key))
	}
	return out
}

func TestRedriveFilters(t *testing.T) {
	b := kafkatest.RequireReal(t)
	raw := kafkatest.Topic(t, b, "redrive-raw", 1, nil)
	dlq := kafkatest.Topic(t, b, "redrive-dlq", 1, nil)
	cl := kafkatest.Client(t, b)
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Millisecond)
	var rs []*kgo.Record
	for i := range 6 {
		r := dlqRecord(dlq, fmt.Sprintf("aurora:t1:l%d", i%3), "retries_exhausted")
		r.Timestamp = base.Add(time.Duration(i) * time.Hour / 2)
		rs = append(rs, r)
	}
	produce(t, cl, rs...)
	opts := redriveOpts(b, raw, dlq)
	opts.Keys = []string{"aurora:t1:l1", "aurora:t1:l2"}
	opts.Since, opts.Until = base.Add(time.Hour), base.Add(150*time.Minute) // records 2, 3, 4
	rep, err := operate.Redrive(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	// 2 (l2), 3 (l0: filtered), 4 (l1)
	if rep.Redriven != 2 || rep.ByKey["aurora:t1:l2"] != 1 || rep.ByKey["aurora:t1:l1"] != 1 {
		t.Fatalf("%+v", rep)
	}
	if operate.RedriveGroup(opts) == operate.RedriveGroup(redriveOpts(b, raw, dlq)) {
		t.Error("different filters share a redrive position")
	}
}

// A reason enrich never writes (a typo) is refused before the redrive
// starts: it would match nothing, and still leave a group of its own
// holding a position past every record.
func TestRedriveRefusesAnUnknownReason(t *testing.T) {
	b := kafkatest.RequireReal(t)
	raw := kafkatest.Topic(t, b, "redrive-raw", 1, nil)
	dlq := kafkatest.Topic(t, b, "redrive-dlq", 1, nil)
	cl := kafkatest.Client(t, b)
	produce(t, cl, dlqRecord(dlq, "aurora:t1:l1", "not_found"))
	opts := redriveOpts(b, raw, dlq)
	opts.Reasons = []string{"not_found", "not_fond"}
	rep, err := operate.Redrive(t.Context(), opts)
	if err == nil || !strings.Contains(err.Error(), `"not_fond"`) || rep.Scanned != 0 {
		t.Fatalf("a typo was taken: %v, %+v", err, rep)
	}
	for _, r := range schema.DLQReasons() {
		if !strings.Contains(err.Error(), string(r)) {
			t.Errorf("the error does not name %s: %v", r, err)
		}
	}
	offs, err := kadm.NewClient(cl).FetchOffsets(t.Context(), operate.RedriveGroup(opts))
	if err != nil || len(offs) != 0 {
		t.Fatalf("the refused redrive left a position: %v, %v", offs, err)
	}
}

// TestRedriveThroughput measures records per second; LEADBRIDGE_REDRIVE_N
// sets the count (default 2000).
func TestRedriveThroughput(t *testing.T) {
	b := kafkatest.RequireReal(t)
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("LEADBRIDGE_REDRIVE_N")); err == nil && v > 0 {
		n = v
	}
	raw := kafkatest.Topic(t, b, "redrive-raw", 12, nil)
	dlq := kafkatest.Topic(t, b, "redrive-dlq", 12, nil)
	cl := kafkatest.Client(t, b, kgo.ProducerBatchMaxBytes(1<<20))
	rs := make([]*kgo.Record, n)
	for i := range rs {
		rs[i] = dlqRecord(dlq, fmt.Sprintf("aurora:t1:lead-%d", i), "retries_exhausted")
	}
	produce(t, cl, rs...)
	rep, err := operate.Redrive(t.Context(), redriveOpts(b, raw, dlq))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Redriven != n {
		t.Fatalf("redrove %d of %d", rep.Redriven, n)
	}
	if got := len(readAll(t, b, raw)); got != n {
		t.Fatalf("raw holds %d of %d", got, n)
	}
	t.Logf("redrive: %d records in %s = %.0f records/s (group join included)", n, rep.Took.Round(time.Millisecond), float64(n)/rep.Took.Seconds())
}

// A --since given as a duration ("24h") resolves to another time at every
// run; the group is named by the duration, so the same command run again
// continues where the last run stopped: the records it redrove are not
// redriven again, and a record dead-lettered since then is.
func TestRedriveSinceAgoRunTwice(t *testing.T) {
	b := kafkatest.RequireReal(t)
	raw := kafkatest.Topic(t, b, "redrive-raw", 1, nil)
	dlq := kafkatest.Topic(t, b, "redrive-dlq", 1, nil)
	cl := kafkatest.Client(t, b)
	produce(t, cl, dlqRecord(dlq, "aurora:t1:l1", "not_found"), dlqRecord(dlq, "aurora:t1:l2", "not_found"))
	run := func() operate.RedriveReport {
		t.Helper()
		opts := redriveOpts(b, raw, dlq)
		opts.SinceAgo = 24 * time.Hour
		opts.Since = time.Now().Add(-opts.SinceAgo) // as the flag resolves it, a moment later each run
		rep, err := operate.Redrive(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := run(); rep.Redriven != 2 {
		t.Fatalf("first run: %+v", rep)
	}
	if rep := run(); rep.Redriven != 0 {
		t.Fatalf("second run redrove %d record(s) again: %+v", rep.Redriven, rep)
	}
	produce(t, cl, dlqRecord(dlq, "aurora:t1:l3", "not_found"))
	if rep := run(); rep.Redriven != 1 || rep.ByKey["aurora:t1:l3"] != 1 {
		t.Fatalf("third run, one new DLQ record: %+v", rep)
	}
	if got := len(readAll(t, b, raw)); got != 3 {
		t.Fatalf("raw holds %d records, want 3", got)
	}
	// The name of an absolute --since is what it always was: a group that
	// earlier runs left keeps its position.
	abs := redriveOpts(b, raw, dlq)
	abs.Since = time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	rel := abs
	rel.SinceAgo = time.Hour
	if operate.RedriveGroup(abs) == operate.RedriveGroup(rel) {
		t.Error("an absolute and a relative --since share a group")
	}
}
