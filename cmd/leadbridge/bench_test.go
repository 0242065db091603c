package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
)

// benchRowRe matches a row of the bench table: server provider requests ok
// errors req/s p50 p99 cpu/200 broker/200.
var benchRowRe = regexp.MustCompile(`(?m)^(bare|naive|ingest|baseline)\s+(aurora|leadpro)\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9.]+)\s+([0-9.]+)ms\s+([0-9.]+)ms\s+([0-9.]+)us\s+([0-9.]+)us$`)

// TestMain lets this test binary be bench ingest's child servers: bench
// runs os.Executable() as "bench serve <server>".
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "bench" && os.Args[2] == "serve" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, os.Args, os.Getenv, os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "leadbridge:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The bench runs end to end on the test broker with short rounds, with
// this binary's ingest as a baseline too: the table parses and its counts
// add up, every server process used CPU, the machine lines account for
// each server's rounds, every acknowledged delivery is on its topic, and
// the topics are gone afterwards. Timing is not checked.
func TestBenchIngest(t *testing.T) {
	b := kafkatest.Find(t)
	const warmup = 10
	prefix := filepath.Join(t.TempDir(), "cpu")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = run(t.Context(), []string{"leadbridge", "bench", "ingest", "--brokers", strings.Join(b.Seeds, ","),
		"--duration", "200ms", "--warmup", strconv.Itoa(warmup), "--rounds", "2", "--concurrency", "4", "--partitions", "3",
		"--cpuprofile", prefix, "--baseline", self,
		"--broker-pid", strconv.Itoa(os.Getpid())}, // a stand-in: only its CPU time is read
		envOf(nil), &out)
	t.Logf("bench output:\n%s", out.String())
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	rows := benchRowRe.FindAllStringSubmatch(out.String(), -1)
	want := []string{"bare aurora", "naive aurora", "ingest aurora", "baseline aurora", "bare leadpro", "ingest leadpro", "baseline leadpro"}
	if len(rows) != len(want) {
		t.Fatalf("%d table rows, want %d", len(rows), len(want))
	}
	for i, r := range rows {
		if got := r[1] + " " + r[2]; got != want[i] {
			t.Errorf("row %d is %s, want %s", i, got, want[i])
		}
		requests, _ := strconv.Atoi(r[3])
		ok, _ := strconv.Atoi(r[4])
		errs, _ := strconv.Atoi(r[5])
		if requests == 0 || ok != requests || errs != 0 {
			t.Errorf("row %s: requests %d, ok %d, errors %d; want all answered 200", want[i], requests, ok, errs)
		}
		if cpu, _ := strconv.ParseFloat(r[9], 64); cpu <= 0 {
			t.Errorf("row %s: server CPU per delivery %s, want above 0", want[i], r[9])
		}
		p50, _ := strconv.ParseFloat(r[7], 64)
		p99, _ := strconv.ParseFloat(r[8], 64)
		if p50 > p99 {
			t.Errorf("row %s: p50 %v above p99 %v", want[i], p50, p99)
		}
	}
	for _, line := range []string{
		`ingest/bare throughput: aurora [0-9.]+x, leadpro [0-9.]+x \(goal >= 0\.5x at 64 in flight\)`,
		`ingest/naive throughput: aurora [0-9.]+x, p99 [0-9.]+ms against [0-9.]+ms \(goal >= 1\.0x, p99 no worse\)`,
		`ingest CPU per acknowledged delivery: aurora [0-9.]+us, leadpro [0-9.]+us \(goal <= 20us\)`,
		`peak RSS: bare [1-9][0-9.]* MiB, naive [1-9][0-9.]* MiB, ingest [1-9][0-9.]* MiB \(goal for ingest <= 64 MiB\)`,
		`ingest/baseline: aurora [0-9.]+x throughput, CPU per 200 [0-9.]+x, p99 [0-9.]+ms against [0-9.]+ms; leadpro .*`,
		`baseline: peak RSS [1-9][0-9.]* MiB, topic records [1-9][0-9]*, answered 200: [1-9][0-9]* \(warmup included\)`,
	} {
		if !regexp.MustCompile(`(?m)^` + line + `$`).MatchString(out.String()) {
			t.Errorf("no line matching %s", line)
		}
	}
	for _, p := range []string{"bare-aurora.1", "naive-aurora.2", "ingest-aurora.2", "ingest-leadpro.1"} {
		if st, err := os.Stat(prefix + "." + p + ".pprof"); err != nil || st.Size() == 0 {
			t.Errorf("no CPU profile of the child's round %s: %v", p, err)
		}
	}
	m := regexp.MustCompile(`(?m)^topic records: (\d+); ingest answered 200: (\d+) \(warmup included\); naive topic records: (\d+), naive answered 200: (\d+)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatal("no topic records line")
	}
	ingested, _ := strconv.Atoi(m[2])
	if m[1] != m[2] || m[3] != m[4] || ingested <= 2*warmup {
		t.Errorf("ingest: %s records for %s 200s; naive: %s records for %s 200s; want equal, above the warmup", m[1], m[2], m[3], m[4])
	}

	machine := regexp.MustCompile(`(?m)^(\w+)\s+(aurora|leadpro)\s+machine: ([0-9.]+) of \d+ CPUs busy \([0-9.]+ of it irq and softirq\), [0-9.]+ steal; load generator ([0-9.]+) \(([0-9.]+)us/200\); other processes -?[0-9.]+$`).FindAllStringSubmatch(out.String(), -1)
	if len(machine) != len(want) {
		t.Errorf("%d machine lines, want one per row (%d)", len(machine), len(want))
	}
	for i, m := range machine {
		if i < len(want) && m[1]+" "+m[2] != want[i] {
			t.Errorf("machine line %d is for %s %s, want %s", i, m[1], m[2], want[i])
		}
		if gen, _ := strconv.ParseFloat(m[5], 64); gen <= 0 {
			t.Errorf("machine line %s %s: load generator CPU per 200 %s, want above 0", m[1], m[2], m[5])
		}
	}
	if b := regexp.MustCompile(`(?m)^baseline: peak RSS [0-9.]+ MiB, topic records (\d+), answered 200: (\d+) `).FindStringSubmatch(out.String()); b == nil || b[1] != b[2] {
		t.Errorf("baseline records and 200s differ: %v", b)
	}

	topic := regexp.MustCompile(`(?m)^topic (leadbridge-bench-[0-9a-f]+) `).FindStringSubmatch(out.String())
	if topic == nil {
		t.Fatal("the output does not name the topic")
	}
	adm := kadm.NewClient(kafkatest.Client(t, b))
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	for _, name := range []string{topic[1], topic[1] + "-naive", topic[1] + "-baseline"} {
		for {
			topics, err := adm.ListTopics(ctx, name)
			if err == nil && !topics.Has(name) {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("topic %s still exists after the bench (last error %v)", name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func TestBenchUsage(t *testing.T) {
	tests := map[string][]string{
		"no subcommand":       {},
		"unknown subcommand":  {"egress"},
		"short duration":      {"ingest", "--duration", "10ms"},
		"negative warmup":     {"ingest", "--warmup", "-1"},
		"rounds zero":         {"ingest", "--rounds", "0"},
		"negative broker pid": {"ingest", "--broker-pid", "-1"},
		"serve nothing":       {"serve"},
		"serve unknown":       {"serve", "fancy"},
		"concurrency zero":    {"ingest", "--concurrency", "0"},
		"unknown provider":    {"ingest", "--provider", "aurora,hubspot"},
		"broker not hostport": {"ingest", "--brokers", "localhost"},
		"argument":            {"ingest", "extra"},
		"e2e zero rate":       {"e2e", "--rate", "0"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), append([]string{"leadbridge", "bench"}, args...), envOf(nil), &out)
			var u usageError
			if !errors.As(err, &u) {
				t.Fatalf("want a usage error (exit 2), got %v", err)
			}
		})
	}
}

func TestBenchHelp(t *testing.T) {
	tests := map[string]struct {
		args []string
		want []string
	}{
		"bench":        {[]string{"--help"}, []string{"ingest", "enrich", "e2e", "bench <benchmark>"}},
		"bench ingest": {[]string{"ingest", "--help"}, []string{"bare net/http server", "naive handler", "acks=all", "-concurrency", "-duration", "-broker-pid", "-cpuprofile", "-warmup", "-rounds", "-brokers"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(t.Context(), append([]string{"leadbridge", "bench"}, tt.args...), envOf(nil), &out); err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("help lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// bench enrich's latency scenario runs end to end on the test broker with a
// small backlog: it reports the ratio over the whole drain and from the
// first API call (never below the first), the CPU per lead record, and
// writes a CPU profile. Timing is not checked. 8 calls in flight keep the
// bound (800 calls/s) near what 200 events reach, so the two-decimal ratio
// of a slow first run (a cold -race binary: 128 events/s) is not 0.00.
func TestBenchEnrichLatency(t *testing.T) {
	b := kafkatest.Find(t)
	prefix := filepath.Join(t.TempDir(), "enrich")
	var out bytes.Buffer
	err := run(t.Context(), []string{"leadbridge", "bench", "enrich", "--brokers", strings.Join(b.Seeds, ","),
		"--scenario", "latency", "--events", "200", "--latency", "20ms", "--max-in-flight", "8", "--rounds", "2", "--cpuprofile", prefix}, envOf(nil), &out)
	t.Logf("bench output:\n%s", out.String())
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	whole := regexp.MustCompile(`reached [0-9]+ calls/s = ([0-9.]+)x of it, group join included`).FindStringSubmatch(out.String())
	fromAPI := regexp.MustCompile(`from the first API call to the last lead record: ([0-9.]+)s, [0-9]+ calls/s = ([0-9.]+)x of the bound`).FindStringSubmatch(out.String())
	if whole == nil || fromAPI == nil {
		t.Fatal("no ratio lines")
	}
	if w, f := parseFloat(t, whole[1]), parseFloat(t, fromAPI[2]); w <= 0 || f < w {
		t.Errorf("ratio %v over the whole drain, %v from the first API call: want 0 < whole <= from the first call", w, f)
	}
	cpu := regexp.MustCompile(`process CPU per lead record: ([0-9.]+)us \(200 records;`).FindStringSubmatch(out.String())
	if cpu == nil || parseFloat(t, cpu[1]) <= 0 {
		t.Error("no CPU per lead record for 200 records")
	}
	for _, f := range []string{".latency.pprof", ".latency-at-least-once.pprof"} {
		if st, err := os.Stat(prefix + f); err != nil || st.Size() == 0 {
			t.Errorf("no CPU profile %s: %v", f, err)
		}
	}
	// Two rounds: a ratio each, and their median (of two, the mean).
	rounds := regexp.MustCompile(`exactly-once / at-least-once: ([0-9.]+)x the events/s`).FindAllStringSubmatch(out.String(), -1)
	if len(rounds) != 2 {
		t.Fatalf("%d exactly-once / at-least-once ratios, want one per round (2)", len(rounds))
	}
	a, b2 := parseFloat(t, rounds[0][1]), parseFloat(t, rounds[1][1])
	med := regexp.MustCompile(`over 2 rounds \(alternating which runs first\): median ([0-9.]+)x, range ([0-9.]+)-([0-9.]+)x`).FindStringSubmatch(out.String())
	if med == nil {
		t.Fatal("no median over the rounds")
	}
	if m := parseFloat(t, med[1]); a <= 0 || b2 <= 0 || math.Abs(m-(a+b2)/2) > 0.011 ||
		parseFloat(t, med[2]) != min(a, b2) || parseFloat(t, med[3]) != max(a, b2) {
		t.Errorf("rounds %v and %v: median line %q", a, b2, med[0])
	}
}

func parseFloat(tb testing.TB, s string) float64 {
	tb.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// bench e2e runs end to end on the test broker at a low rate: every webhook
// is answered 200 and reaches the leads topic, and the percentiles are in
// order. Timing is not checked.
func TestBenchE2E(t *testing.T) {
	b := kafkatest.Find(t)
	var out bytes.Buffer
	err := run(t.Context(), []string{"leadbridge", "bench", "e2e", "--brokers", strings.Join(b.Seeds, ","),
		"--rate", "100", "--duration", "1s", "--latency", "5ms"}, envOf(nil), &out)
	t.Logf("bench output:\n%s", out.String())
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	if !strings.Contains(out.String(), "ingest answered 200: 100 of 100 ") {
		t.Error("not every webhook answered 200")
	}
	m := regexp.MustCompile(`webhook to lead record: p50 ([0-9.]+)ms, p90 ([0-9.]+)ms, p99 ([0-9.]+)ms, max ([0-9.]+)ms over 100 records; 0 without a record`).
		FindStringSubmatch(out.String())
	if m == nil {
		t.Fatal("no freshness line for 100 records, none missing")
	}
	for i := 2; i < len(m); i++ {
		if parseFloat(t, m[i-1]) > parseFloat(t, m[i]) || parseFloat(t, m[1]) <= 0 {
			t.Errorf("percentiles out of order or zero: %v", m[1:])
		}
	}
}

// bench enrich's poison scenario runs end to end on the test broker at a
// small scale: both runs drain, every poison lead ends in the DLQ, none
// before retry_for, and the ratio line is there. Timing is not checked.
func TestBenchEnrichPoison(t *testing.T) {
	b := kafkatest.Find(t)
	var out bytes.Buffer
	err := run(t.Context(), []string{"leadbridge", "bench", "enrich", "--brokers", strings.Join(b.Seeds, ","),
		"--scenario", "poison", "--events", "100", "--poison", "3", "--retry-for", "2s", "--latency", "5ms"}, envOf(nil), &out)
	t.Logf("bench output:\n%s", out.String())
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	m := regexp.MustCompile(`poison: 3 of 3 in the DLQ, the first ([0-9.]+)s and the last ([0-9.]+)s after the start`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatal("no poison line for 3 of 3 in the DLQ")
	}
	if first := parseFloat(t, m[1]); first < 2 {
		t.Errorf("the first poison lead reached the DLQ %vs after the start, before retry_for (2s)", first)
	}
	f := regexp.MustCompile(`each after failing for ([0-9.]+)s to ([0-9.]+)s`).FindStringSubmatch(out.String())
	if f == nil || parseFloat(t, f[1]) < 2 || parseFloat(t, f[2]) < parseFloat(t, f[1]) {
		t.Errorf("poison failing time before the DLQ %v: want a line, at least retry_for (2s)", f)
	}
	if !regexp.MustCompile(`good leads: [0-9.]+s without poison, [0-9.]+s behind 3 poison leads = [0-9.]+x`).MatchString(out.String()) {
		t.Error("no ratio line")
	}
}
