package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// cpuProfile writes a CPU profile of stacks (leaf first), each sampled for
// cpu, and returns its file.
func cpuProfile(t *testing.T, stacks [][]string, cpu []time.Duration) string {
	t.Helper()
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     int64(10 * time.Millisecond),
	}
	funcs := map[string]*profile.Function{}
	for i, stack := range stacks {
		s := &profile.Sample{Value: []int64{1, int64(cpu[i])}}
		for _, name := range stack {
			fn := funcs[name]
			if fn == nil {
				fn = &profile.Function{ID: uint64(len(funcs) + 1), Name: name}
				funcs[name] = fn
				p.Function = append(p.Function, fn)
			}
			loc := &profile.Location{ID: uint64(len(p.Location) + 1), Line: []profile.Line{{Function: fn}}}
			p.Location = append(p.Location, loc)
			s.Location = append(s.Location, loc)
		}
		p.Sample = append(p.Sample, s)
	}
	file := filepath.Join(t.TempDir(), "cpu.pprof")
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// A sample counts in the first part any of its frames matches: the write
// syscall of a response is the response's, the one of a produce request
// kgo's; a produce call inside the handler is kgo's; what matches nothing
// is other.
func TestProfileParts(t *testing.T) {
	stacks := [][]string{
		{"internal/runtime/syscall/linux.Syscall6", "syscall.write", "net/http.(*response).finishRequest", "net/http.(*conn).serve"},
		{"internal/runtime/syscall/linux.Syscall6", "syscall.write", "github.com/twmb/franz-go/pkg/kgo.(*brokerCxn).writeConn", "github.com/twmb/franz-go/pkg/kgo.(*broker).handleReqs"},
		{"runtime.mallocgc", "github.com/twmb/franz-go/pkg/kgo.(*Client).TryProduce", "github.com/leadbridge/leadbridge/ingest.(*KafkaPublisher).Publish",
			"github.com/leadbridge/leadbridge/ingest.(*Server).aurora", "github.com/labstack/echo/v4.(*Echo).ServeHTTP", "net/http.(*conn).serve"},
		{"runtime.mallocgc", "github.com/leadbridge/leadbridge/schema.Event.Record", "github.com/leadbridge/leadbridge/ingest.(*Server).aurora",
			"github.com/labstack/echo/v4.(*Echo).ServeHTTP", "net/http.(*conn).serve"},
		{"github.com/labstack/echo/v4.(*Router).Find", "github.com/labstack/echo/v4.(*Echo).ServeHTTP", "net/http.(*conn).serve"},
		{"runtime.futex", "runtime.findRunnable", "runtime.schedule", "runtime.park_m", "runtime.mcall"},
		{"runtime.scanobject", "runtime.gcDrain", "runtime.gcBgMarkWorker"},
		{"syscall.read", "net/http.(*connReader).backgroundRead"},
		{"main.somethingElse"},
	}
	cpu := []time.Duration{7, 2, 3, 5, 11, 13, 17, 19, 23}
	parts, err := profileParts([]string{cpuProfile(t, stacks, cpu), cpuProfile(t, stacks[:1], cpu[:1])})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{
		"response: status line, headers, write":           7 + 7,
		"kgo: produce requests (encode, compress, write)": 2,
		"kgo: the produce call in the handler":            3,
		"the handler":                                     5,
		"routing: Echo (context, middleware), ServeMux":   11,
		"scheduler: park, wake, find work":                13,
		"GC workers and sweeping":                         17,
		"net/http's background read and its abort":        19,
		otherPart: 23,
	}
	for name, d := range want {
		if parts[name] != d {
			t.Errorf("%s: %v, want %v", name, parts[name], d)
		}
	}
	if len(parts) != len(want) {
		t.Errorf("parts %v, want %v", parts, want)
	}
}

// printParts reads the profiles a run wrote, one per round, and prints each
// server's CPU per 200 by part and the profile's share of /proc's figure.
func TestPrintParts(t *testing.T) {
	stacks := [][]string{{"syscall.write", "net/http.(*response).finishRequest"}, {"main.other"}}
	dir := t.TempDir()
	for round := 1; round <= 2; round++ {
		data, err := os.ReadFile(cpuProfile(t, stacks, []time.Duration{30 * time.Microsecond, 10 * time.Microsecond}))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(profileFile(filepath.Join(dir, "p"), ServerBare, "aurora", round), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	row := benchRow{server: ServerBare, provider: "aurora", cpu: 100 * time.Microsecond}
	row.res.Status = map[int]int{200: 4}
	var out bytes.Buffer
	if err := printParts(&out, filepath.Join(dir, "p"), 2, []benchRow{row}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"response: status line, headers, write",
		"15.0us", // 2 rounds x 30us over 4 answers
		"5.0us",
		"20.0us", // all: 80us over 4
		"80%",    // of /proc's 100us
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
	if err := printParts(&out, filepath.Join(dir, "missing"), 1, []benchRow{row}); err == nil {
		t.Error("no error for a missing profile")
	}
}

// A profile written by runtime/pprof parses, and its CPU time lands in a part.
func TestProfilePartsOfARealProfile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "real.pprof")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Skipf("CPU profiling unavailable: %v", err)
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	parts, err := profileParts([]string{file})
	if err != nil {
		t.Fatal(err)
	}
	var all time.Duration
	for _, d := range parts {
		all += d
	}
	if all <= 0 {
		t.Errorf("no CPU time in a profile of 300ms of work (%d loops): %v", x, parts)
	}
}
