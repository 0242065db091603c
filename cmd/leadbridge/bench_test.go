package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/leadbridge/leadbridge/deploy/kafkatest"
)

// benchRowRe matches a row of the bench table: server provider requests ok errors req/s p50 p99.
var benchRowRe = regexp.MustCompile(`(?m)^(bare|ingest)\s+(aurora|leadpro)\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9.]+)\s+([0-9.]+)ms\s+([0-9.]+)ms$`)

// The bench runs end to end on the test broker with a tiny n: the table
// parses and its counts add up, every acknowledged delivery is on the topic,
// and the topic is gone afterwards. Timing is not checked.
func TestBenchIngest(t *testing.T) {
	b := kafkatest.Find(t)
	const n, warmup = 40, 10
	var out bytes.Buffer
	err := run(t.Context(), []string{"leadbridge", "bench", "ingest", "--brokers", strings.Join(b.Seeds, ","),
		"-n", strconv.Itoa(n), "--warmup", strconv.Itoa(warmup), "--rounds", "3", "--concurrency", "4", "--partitions", "3"},
		envOf(nil), &out)
	t.Logf("bench output:\n%s", out.String())
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	rows := benchRowRe.FindAllStringSubmatch(out.String(), -1)
	want := []string{"bare aurora", "ingest aurora", "bare leadpro", "ingest leadpro"}
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
		if requests != n || ok+errs != requests || errs != 0 {
			t.Errorf("row %s: requests %d, ok %d, errors %d; want %d, %d, 0", want[i], requests, ok, errs, n, n)
		}
		p50, _ := strconv.ParseFloat(r[7], 64)
		p99, _ := strconv.ParseFloat(r[8], 64)
		if p50 > p99 {
			t.Errorf("row %s: p50 %v above p99 %v", want[i], p50, p99)
		}
	}
	if !regexp.MustCompile(`(?m)^ingest/bare throughput: aurora [0-9.]+x, leadpro [0-9.]+x \(goal >= 0\.5x\)$`).MatchString(out.String()) {
		t.Error("no ratio line")
	}
	m := regexp.MustCompile(`(?m)^topic records: (\d+); ingest answered 200: (\d+) \(warmup included\)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatal("no topic records line")
	}
	if m[1] != m[2] || m[2] != strconv.Itoa(2*(n+warmup)) {
		t.Errorf("topic holds %s records, ingest answered 200 to %s, want both %d", m[1], m[2], 2*(n+warmup))
	}

	topic := regexp.MustCompile(`(?m)^topic (leadbridge-bench-[0-9a-f]+) `).FindStringSubmatch(out.String())
	if topic == nil {
		t.Fatal("the output does not name the topic")
	}
	adm := kadm.NewClient(kafkatest.Client(t, b))
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	for {
		topics, err := adm.ListTopics(ctx, topic[1])
		if err == nil && !topics.Has(topic[1]) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("topic %s still exists after the bench (last error %v)", topic[1], err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestBenchUsage(t *testing.T) {
	tests := map[string][]string{
		"no subcommand":       {},
		"unknown subcommand":  {"egress"},
		"n zero":              {"ingest", "-n", "0"},
		"negative warmup":     {"ingest", "--warmup", "-1"},
		"rounds over n":       {"ingest", "-n", "2", "--rounds", "3"},
		"concurrency zero":    {"ingest", "--concurrency", "0"},
		"unknown provider":    {"ingest", "--provider", "aurora,hubspot"},
		"broker not hostport": {"ingest", "--brokers", "localhost"},
		"argument":            {"ingest", "extra"},
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
		"bench":        {[]string{"--help"}, []string{"ingest", "bench <benchmark>"}},
		"bench ingest": {[]string{"ingest", "--help"}, []string{"bare net/http server", "acks=all", "-concurrency", "-warmup", "-rounds", "-brokers"}},
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
