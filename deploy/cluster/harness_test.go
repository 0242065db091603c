//go:build cluster

package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// repoRoot is the module root, seen from this package's directory.
const repoRoot = "../.."

// buildLeadbridge builds the binary the way production runs it.
func buildLeadbridge(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "leadbridge")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/leadbridge")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/leadbridge: %v\n%s", err, out)
	}
	return bin
}

// cluster is a 3-node Kafka started with deploy/kafka/run-cluster.sh.
type cluster struct {
	ctl   string
	env   []string
	seeds []string
	last  string // stderr of the last verb
}

// startCluster starts the three nodes in a temporary work dir, on
// LEADBRIDGE_TEST_CLUSTER_BASE_PORT or the first free run of six ports from
// 19192 up (away from the shared single broker), and removes them at cleanup.
func startCluster(tb testing.TB) *cluster {
	tb.Helper()
	base := 0
	if v := os.Getenv("LEADBRIDGE_TEST_CLUSTER_BASE_PORT"); v != "" {
		base, _ = strconv.Atoi(v)
	}
	for p := 19192; base == 0 && p < 19990; p += 10 {
		if allFree(p, 6) {
			base = p
		}
	}
	if base == 0 {
		tb.Fatal("no six free ports in 19192..19990")
	}
	ctl, err := filepath.Abs(filepath.Join(repoRoot, "deploy/kafka/run-cluster.sh"))
	if err != nil {
		tb.Fatal(err)
	}
	work := tb.TempDir()
	c := &cluster{ctl: ctl, env: append(os.Environ(),
		"KAFKA_CLUSTER_WORK_DIR="+work, "KAFKA_CLUSTER_BASE_PORT="+strconv.Itoa(base))}
	out := c.do(tb, "start")
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "KAFKA_SEED_BROKERS="); ok {
			c.seeds = strings.Split(v, ",")
		}
	}
	if len(c.seeds) != 3 {
		tb.Fatalf("run-cluster.sh start printed no three seeds: %q", out)
	}
	tb.Cleanup(func() {
		if tb.Failed() { // the work dir goes with the test: show each node's last ERROR lines first
			for n := 1; n <= 3; n++ {
				tb.Logf("--- node %d, last ERROR/WARN lines:\n%s", n, grepTail(filepath.Join(work, fmt.Sprintf("node%d/logs/kafka.out", n)), 20))
			}
		}
		c.do(tb, "clean")
	})
	return c
}

func allFree(base, n int) bool {
	for p := base; p < base+n; p++ {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), 200*time.Millisecond); err == nil {
			c.Close()
			return false
		}
	}
	return true
}

// do runs a run-cluster.sh verb and returns its stdout; its progress lines
// (stderr) are in c.last.
func (c *cluster) do(tb testing.TB, args ...string) string {
	tb.Helper()
	cmd := exec.Command("bash", append([]string{c.ctl}, args...)...)
	cmd.Env = c.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("run-cluster.sh %v: %v\n%s", args, err, stderr.String())
	}
	c.last = stderr.String()
	return string(out)
}

// proc is a leadbridge child process with its log in a file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startProc(tb testing.TB, bin, name string, env []string, args ...string) *proc {
	tb.Helper()
	p := &proc{name: name, log: filepath.Join(tb.TempDir(), name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		tb.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { p.cmd.Wait(); f.Close(); close(p.done) }()
	tb.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if tb.Failed() {
			tb.Logf("--- last lines of %s:\n%s", name, tail(p.log, 30))
		}
	})
	return p
}

// stop sends SIGTERM and waits for the exit.
func (p *proc) stop(tb testing.TB) {
	tb.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		tb.Fatalf("%s did not exit within 60s of SIGTERM", p.name)
	}
}

// peakRSS is the process's peak resident set size so far (VmHWM), in MiB.
func (p *proc) peakRSS() float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return -1
}

// grepTail is the last n ERROR or WARN lines of a broker log.
func grepTail(path string, n int) string {
	b, _ := os.ReadFile(path)
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "] ERROR ") || strings.Contains(l, "] WARN ") {
			keep = append(keep, l[:min(len(l), 400)])
		}
	}
	return strings.Join(keep[max(0, len(keep)-n):], "\n")
}

// logSize is the size of the log at path, -1 when it cannot be read.
func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// waitFor polls cond every 200ms until it holds or d passed.
func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func ready(url string) bool {
	r, err := http.Get(url)
	if err != nil {
		return false
	}
	r.Body.Close()
	return r.StatusCode == http.StatusOK
}

var (
	simStatus   = regexp.MustCompile(`(?m)^\s+(\d{3}) [^:]*: (\d+)$`)
	simNoAnswer = regexp.MustCompile(`(?m)^\s+no answer: (\d+)`)
	simMax      = regexp.MustCompile(`(?m)^latency .* p99 ([0-9.]+)ms\s+max ([0-9.]+)ms$`)
)

// batch is one run of `leadbridge simulate -n N --attr id=base`: LeadPro
// leads base .. base+N-1, and what simulate counted.
type batch struct {
	base, n  int
	status   map[int]int // answers per status code
	noAnswer int
	p99, max time.Duration
}

// parseSimulate reads simulate's summary. It runs on the load goroutine, so
// it reports a problem as an error (t.Fatal belongs to the test goroutine).
func parseSimulate(base, n int, out string) (batch, error) {
	b := batch{base: base, n: n, status: map[int]int{}}
	for _, s := range simStatus.FindAllStringSubmatch(out, -1) {
		code, _ := strconv.Atoi(s[1])
		c, _ := strconv.Atoi(s[2])
		b.status[code] = c
	}
	if m := simNoAnswer.FindStringSubmatch(out); m != nil {
		b.noAnswer, _ = strconv.Atoi(m[1])
	}
	m := simMax.FindStringSubmatch(out)
	if m == nil {
		return b, fmt.Errorf("simulate printed no latency line:\n%s", out)
	}
	p99, _ := strconv.ParseFloat(m[1], 64)
	mx, _ := strconv.ParseFloat(m[2], 64)
	b.p99, b.max = time.Duration(p99*float64(time.Millisecond)), time.Duration(mx*float64(time.Millisecond))
	total := b.noAnswer
	for _, c := range b.status {
		total += c
	}
	if total != n {
		return b, fmt.Errorf("simulate accounted for %d of %d deliveries:\n%s", total, n, out)
	}
	return b, nil
}

// totals sums batches: answers per status, deliveries without an answer, the
// slowest answer, and the highest per-batch p99.
func totals(bs []batch) (status map[int]int, noAnswer int, p99, slowest time.Duration) {
	status = map[int]int{}
	for _, b := range bs {
		for c, n := range b.status {
			status[c] += n
		}
		noAnswer += b.noAnswer
		p99, slowest = max(p99, b.p99), max(slowest, b.max)
	}
	return status, noAnswer, p99, slowest
}

// readAll reads a topic from the start as a read_committed consumer, until
// it has read up to the high watermarks of now (a transaction's commit
// marker takes the last offset of a partition and is no record: a
// partition whose last record is one short of its end is read once the
// consumer has been idle for 3s).
func readAll(tb testing.TB, seeds []string, topic string) []*kgo.Record {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adm := kadm.NewClient(client(tb, seeds))
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		tb.Fatal(err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	cl := client(tb, seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var recs []*kgo.Record
	for len(left) > 0 {
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		fs := cl.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil {
			tb.Fatalf("reading %s: partitions not read to their end: %v", topic, left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			recs = append(recs, r)
			if r.Offset >= left[r.Partition]-1 {
				delete(left, r.Partition)
			}
		})
		if fs.NumRecords() == 0 { // idle: only markers can be left
			for p, end := range left {
				if last := lastOffset(recs, p); last >= end-2 {
					delete(left, p)
				}
			}
		}
	}
	return recs
}

func lastOffset(recs []*kgo.Record, p int32) int64 {
	last := int64(-1)
	for _, r := range recs {
		if r.Partition == p {
			last = max(last, r.Offset)
		}
	}
	return last
}

func client(tb testing.TB, seeds []string, opts ...kgo.Opt) *kgo.Client {
	tb.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return cl
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// leaderCounts is how many partitions (every topic, internal ones too) each
// node leads.
func leaderCounts(ctx context.Context, adm *kadm.Client) (map[int32]int, error) {
	md, err := adm.Metadata(ctx)
	if err != nil {
		return nil, err
	}
	n := map[int32]int{}
	for _, t := range md.Topics {
		for _, p := range t.Partitions {
			n[p.Leader]++
		}
	}
	return n, nil
}

// fullyReplicated: every partition of every topic has all three replicas in sync.
func fullyReplicated(ctx context.Context, adm *kadm.Client) bool {
	md, err := adm.Metadata(ctx)
	if err != nil || len(md.Topics) == 0 {
		return false
	}
	for _, t := range md.Topics {
		for _, p := range t.Partitions {
			if p.Err != nil || p.Leader < 0 || len(p.ISR) != 3 {
				return false
			}
		}
	}
	return true
}

// groupCaughtUp: the group committed the end of every partition of topic.
func groupCaughtUp(ctx context.Context, adm *kadm.Client, group, topic string) bool {
	lags, err := adm.Lag(ctx, group)
	if err != nil {
		return false
	}
	l, ok := lags[group]
	if !ok || l.Error() != nil {
		return false
	}
	tl, ok := l.Lag.TotalByTopic()[topic]
	return ok && tl.Lag == 0 && len(l.Lag[topic]) > 0 && !slices.ContainsFunc(mapValues(l.Lag[topic]), func(m kadm.GroupMemberLag) bool { return m.Err != nil })
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

var errNoLeader = errors.New("no leader")

// mostLeader is the node leading the most partitions.
func mostLeader(ctx context.Context, adm *kadm.Client) (int32, int, error) {
	n, err := leaderCounts(ctx, adm)
	if err != nil {
		return 0, 0, err
	}
	best, most := int32(-1), 0
	for id, c := range n {
		if id >= 0 && (c > most || (c == most && id < best)) {
			best, most = id, c
		}
	}
	if best < 0 {
		return 0, 0, errNoLeader
	}
	return best, most, nil
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
