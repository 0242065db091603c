//go:build cluster

package cluster_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
)

const (
	account = "9999"
	secret  = "cluster-test-signing-secret"
	group   = "cluster-enrich"
	// load: a backlog first, then a steady rate, in batches of 5s, while a broker fails
	backlog   = 3000
	rate      = 200
	batchSize = 1000
)

// TestBrokerFailures runs ingest and two enrich members (the real binary,
// as child processes) against a 3-node cluster with topics of replication
// factor 3 and min.insync.replicas=2, drives ingest with `leadbridge
// simulate`, and then (1) SIGKILLs the node leading the most partitions
// mid-load and restarts it, and (2) restarts every node in turn (a rolling
// upgrade) under load. After each it checks that every webhook answered 200
// is on raw and has its lead record, and reports the 503s, the longest time
// without a 200 and the duplicate lead records a read_committed reader sees.
func TestBrokerFailures(t *testing.T) {
	if _, err := exec.LookPath("java"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the 3-broker test needs Java 17+ (CI installs it)")
		}
		t.Skip("the 3-broker test needs Java 17+ and the Kafka jars (deploy/kafka)")
	}
	bin := buildLeadbridge(t)
	c := startCluster(t)
	ctx := t.Context()
	adm := kadm.NewClient(client(t, c.seeds))

	ingestAddr := kafkatest.FreeAddr(t)
	cfg := filepath.Join(t.TempDir(), "leadbridge.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`kafka:
  brokers: [%s]
topics:
  partitions: 6
  replication_factor: 3
http:
  addr: %q
leadpro:
  accounts:
    - id: %q
      signing_secrets: [%q]
enrich:
  group_id: %s
`, strings.Join(c.seeds, ", "), ingestAddr, account, secret, group)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"LEADBRIDGE_CONFIG=" + cfg}

	// topics create, as production runs it, sets min.insync.replicas=2 for RF 3
	if out, err := command(bin, env, "topics", "create"); err != nil {
		t.Fatalf("topics create: %v\n%s", err, out)
	}
	for _, topic := range []string{"leads.raw", "leads", "leads.dlq"} {
		checkReplication(t, ctx, adm, topic)
	}

	ingest := startProc(t, bin, "ingest", env, "ingest")
	waitFor(t, time.Minute, "ingest /readyz answers 200", func() bool { return ready("http://" + ingestAddr + "/readyz") })
	l := &loader{tb: t, bin: bin, env: append(env, "LEADBRIDGE_SIM_SECRET="+secret), url: "http://" + ingestAddr, next: 1_000_000}

	// the backlog enrich will work through
	if b := l.run(backlog, 0); b.status[200] != backlog {
		t.Fatalf("backlog: %v, want %d x 200", b.status, backlog)
	}
	var enrichers []*proc
	for i := range 2 {
		addr := kafkatest.FreeAddr(t)
		enrichers = append(enrichers, startProc(t, bin, fmt.Sprintf("enrich-%d", i), append(env, "LEADBRIDGE_ENRICH_HTTP_ADDR="+addr), "enrich"))
		waitFor(t, time.Minute, "enrich /readyz answers 200", func() bool { return ready("http://" + addr + "/readyz") })
	}
	onRaw := func() int64 { return rawRecords(ctx, adm) }
	progress := func(n int64, what string) {
		t.Helper()
		var base int64
		waitFor(t, time.Minute, "raw's end offsets", func() bool { base = onRaw(); return base >= 0 })
		waitFor(t, 2*time.Minute, fmt.Sprintf("%d more records on raw %s", n, what), func() bool { return onRaw() >= base+n })
	}

	t.Run("kill -9 the leader of the most partitions", func(t *testing.T) {
		stop := l.background(t, batchSize, rate)
		progress(400, "under load")
		victim, led, err := mostLeader(ctx, adm)
		if err != nil {
			t.Fatal(err)
		}
		c.do(t, "kill", strconv.Itoa(int(victim)))
		killed := time.Now()
		waitFor(t, time.Minute, "the killed node's partitions have new leaders", func() bool {
			n, err := leaderCounts(ctx, adm)
			return err == nil && n[victim] == 0 && n[-1] == 0
		})
		moved := time.Since(killed)
		progress(1000, "with the node down")
		down := time.Since(killed)
		t1 := time.Now()
		c.do(t, "start", strconv.Itoa(int(victim)))
		restarted := time.Since(t1)
		waitFor(t, 2*time.Minute, "every partition has 3 in-sync replicas again", func() bool { return fullyReplicated(ctx, adm) })
		insync := time.Since(t1)
		progress(400, "after the restart")
		bs := stop()
		t.Logf("FIGURE kill -9: node %d led %d of the partitions; leaders moved in %s; node down %s; restart to serving %s, to full ISR %s",
			victim, led, fmtDur(moved), fmtDur(down), fmtDur(restarted), fmtDur(insync))
		report(t, "kill -9", bs)
		verify(t, ctx, adm, c.seeds, l.all(), "kill -9")
	})

	t.Run("rolling restart of every node", func(t *testing.T) {
		stop := l.background(t, batchSize, rate)
		t0 := time.Now()
		var steps []string
		for n := 1; n <= 3; n++ {
			progress(400, "before the next restart")
			t1 := time.Now()
			c.do(t, "restart", strconv.Itoa(n))
			restarted := time.Since(t1)
			waitFor(t, 2*time.Minute, "every partition has 3 in-sync replicas again", func() bool { return fullyReplicated(ctx, adm) })
			steps = append(steps, fmt.Sprintf("node %d: %s, serving again after %s, full ISR after %s",
				n, stopLine(c.last), fmtDur(restarted), fmtDur(time.Since(t1))))
		}
		progress(400, "after the last restart")
		bs := stop()
		t.Logf("FIGURE rolling restart, %s in all: %s", fmtDur(time.Since(t0)), strings.Join(steps, "; "))
		report(t, "rolling restart", bs)
		verify(t, ctx, adm, c.seeds, l.all(), "rolling restart")
	})
	// what the Kubernetes requests and limits are sized from (deploy/k8s)
	t.Logf("FIGURE peak RSS (VmHWM) after %d webhooks: ingest %.0f MiB; enrich members %.0f and %.0f MiB",
		l.next-1_000_000, ingest.peakRSS(), enrichers[0].peakRSS(), enrichers[1].peakRSS())
	// A member that exited (one CI run's RSS figure read -1) is not a loss,
	// the group takes its partitions over, but it should not happen: say
	// why, so the next run that sees it tells.
	for _, p := range append([]*proc{ingest}, enrichers...) {
		select {
		case <-p.done:
			// The exit status tells a crash (signal) from a return (exit
			// code) when the log has nothing: one run's log was empty.
			t.Logf("FIGURE %s exited during the test (%s, log %d bytes); its last lines:\n%s",
				p.name, p.cmd.ProcessState, logSize(p.log), tail(p.log, 30))
		default:
		}
	}
	ingest.stop(t)
}

// loader runs `leadbridge simulate` against ingest, each run with the next
// range of LeadPro lead ids.
type loader struct {
	tb   testing.TB
	bin  string
	env  []string
	url  string
	mu   sync.Mutex
	next int
	done []batch
}

// run sends n deliveries at r per second (0: unlimited) and waits for them.
func (l *loader) run(n, r int) batch {
	l.mu.Lock()
	base := l.next
	l.next += n
	l.mu.Unlock()
	args := []string{"simulate", "--provider", "leadpro", "--account", account, "--url", l.url,
		"-n", strconv.Itoa(n), "--concurrency", "64", "--attr", "id=" + strconv.Itoa(base)}
	if r > 0 {
		args = append(args, "--rate", strconv.Itoa(r))
	}
	cmd := exec.Command(l.bin, args...)
	cmd.Env = append(os.Environ(), l.env...)
	out, _ := cmd.CombinedOutput() // exit 1 when any delivery was not answered 200: counted below
	b, err := parseSimulate(base, n, string(out))
	if err != nil {
		l.tb.Error(err)
		b.noAnswer = n // counted as unanswered, which report flags
	}
	l.mu.Lock()
	l.done = append(l.done, b)
	l.mu.Unlock()
	return b
}

// background runs batches of n at r per second until stop is called; stop
// waits for the batch in flight and returns the batches it ran. A test that
// fails before calling stop stops the load at its cleanup.
func (l *loader) background(tb testing.TB, n, r int) (stop func() []batch) {
	quit, ended := make(chan struct{}), make(chan []batch, 1)
	go func() {
		var bs []batch
		for {
			bs = append(bs, l.run(n, r))
			select {
			case <-quit:
				ended <- bs
				return
			default:
			}
		}
	}()
	var once sync.Once
	var bs []batch
	stop = func() []batch { once.Do(func() { close(quit); bs = <-ended }); return bs }
	tb.Cleanup(func() { stop() })
	return stop
}

func (l *loader) all() []batch {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.done)
}

// report logs what simulate saw in a phase.
func report(t *testing.T, phase string, bs []batch) {
	t.Helper()
	status, noAnswer, p99, slowest := totals(bs)
	n := noAnswer
	for _, c := range status {
		n += c
	}
	other := n - status[200] - status[503] - noAnswer
	t.Logf("FIGURE %s: %d webhooks at %d/s: %d x 200, %d x 503, %d other, %d unanswered; worst batch p99 %s; longest wait for an answer (ingest stall) %s",
		phase, n, rate, status[200], status[503], other, noAnswer, fmtDur(p99), fmtDur(slowest))
	if other > 0 || noAnswer > 0 {
		t.Errorf("%s: %d answers neither 200 nor 503, %d deliveries without an answer", phase, other, noAnswer)
	}
}

// stopLine is run-kafka.sh's "stopped (SIGTERM) in 1.2s" from a verb's stderr.
func stopLine(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if i := strings.Index(l, "stopped ("); i >= 0 {
			return strings.TrimSpace(l[i:])
		}
	}
	return "stop time not printed"
}

// verify waits until the enrich group has committed all of raw, then checks
// every batch simulate ran so far. A batch answered 200 throughout must
// have every one of its leads on raw; for a batch with other answers, at
// least as many of its leads as got 200 (which ones got the 503s, simulate
// does not say). Every lead on raw must have a lead record, and the DLQ
// stays empty. Duplicate lead records are counted; they are asserted to be
// 0 once enrich writes leads in transactions (exactly-once).
func verify(t *testing.T, ctx context.Context, adm *kadm.Client, seeds []string, bs []batch, phase string) {
	t.Helper()
	waitFor(t, 3*time.Minute, "the enrich group committed all of raw", func() bool { return groupCaughtUp(ctx, adm, group, "leads.raw") })
	onRaw := map[string]bool{}
	raw := readAll(t, seeds, "leads.raw")
	for _, r := range raw {
		onRaw[string(r.Key)] = true
	}
	perKey := map[string]int{}
	transactional := true
	leads := readAll(t, seeds, "leads")
	for _, r := range leads {
		perKey[string(r.Key)]++
		transactional = transactional && r.Attrs.IsTransactional()
	}
	transactional = transactional && len(leads) > 0
	var ok200, missing, lost, dups int
	for _, b := range bs {
		found := 0
		for id := b.base; id < b.base+b.n; id++ {
			k := "leadpro:" + account + ":" + strconv.Itoa(id)
			if !onRaw[k] {
				continue
			}
			found++
			if perKey[k] == 0 {
				lost++
			}
		}
		ok200 += b.status[200]
		if found < b.status[200] {
			missing += b.status[200] - found
		}
	}
	for _, n := range perKey {
		dups += n - 1
	}
	dlq := readAll(t, seeds, "leads.dlq")
	t.Logf("FIGURE %s, all phases so far: %d answered 200, %d of them not on raw; raw %d records; leads %d records over %d keys: %d lost, %d duplicates for a read_committed reader (exactly-once on: %v); dlq %d",
		phase, ok200, missing, len(raw), len(leads), len(perKey), lost, dups, transactional, len(dlq))
	if missing > 0 {
		t.Errorf("%d webhooks answered 200 are not on raw", missing)
	}
	if lost > 0 {
		t.Errorf("%d leads on raw have no lead record", lost)
	}
	if len(dlq) > 0 {
		t.Errorf("%d records in the DLQ", len(dlq))
	}
	if transactional && dups > 0 {
		t.Errorf("%d duplicate lead records for a read_committed reader, with exactly-once on", dups)
	}
}

// rawRecords is the sum of raw's end offsets (-1 while one is unknown).
func rawRecords(ctx context.Context, adm *kadm.Client) int64 {
	ends, err := adm.ListEndOffsets(ctx, "leads.raw")
	if err != nil || ends.Error() != nil {
		return -1
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

func checkReplication(t *testing.T, ctx context.Context, adm *kadm.Client, topic string) {
	t.Helper()
	var td kadm.TopicDetails
	waitFor(t, time.Minute, "topic "+topic+" has leaders on every node's metadata", func() bool {
		var err error
		td, err = adm.ListTopics(ctx, topic)
		return err == nil && td[topic].Err == nil && len(td[topic].Partitions) == 6
	})
	for _, p := range td[topic].Partitions {
		if len(p.Replicas) != 3 {
			t.Fatalf("%s/%d has %d replicas, want 3", topic, p.Partition, len(p.Replicas))
		}
	}
	rc, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rc.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	// set on the topic by topics create, not inherited from the broker
	i := slices.IndexFunc(c.Configs, func(kv kadm.Config) bool { return kv.Key == "min.insync.replicas" })
	if i < 0 || c.Configs[i].MaybeValue() != "2" || c.Configs[i].Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("%s: min.insync.replicas is not 2 on the topic: %+v", topic, c.Configs[max(i, 0)])
	}
}

func command(bin string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(context.Background(), bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
