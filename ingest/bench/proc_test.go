package bench

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// The /proc readers see this process: CPU time grows with work done, and
// the peak RSS covers a buffer it touched.
func TestProcReaders(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc: Linux only")
	}
	before, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	after := before
	for after-before < 50*time.Millisecond && time.Now().Before(deadline) { // burn CPU until it shows
		x := 0
		for i := range 10_000_000 {
			x += i
		}
		_ = x
		if after, err = cpuTime(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if after-before < 50*time.Millisecond {
		t.Errorf("cpu time went from %v to %v over 5 s of work", before, after)
	}
	// The machine was busy for at least what this process did between two
	// readings (ticks round each reading, so allow two).
	m0, err := readMachineTime()
	if err != nil {
		t.Fatal(err)
	}
	self0, _ := cpuTime(os.Getpid())
	for self := self0; self-self0 < 100*time.Millisecond && time.Now().Before(deadline.Add(5*time.Second)); {
		x := 0
		for i := range 10_000_000 {
			x += i
		}
		_ = x
		self, _ = cpuTime(os.Getpid())
	}
	self1, _ := cpuTime(os.Getpid())
	m1, err := readMachineTime()
	if err != nil {
		t.Fatal(err)
	}
	if busy := m1.sub(m0).busy; busy < self1-self0-2*time.Second/userHZ {
		t.Errorf("machine busy %v while this process alone used %v", busy, self1-self0)
	}
	buf := make([]byte, 32<<20)
	for i := range buf {
		buf[i] = 1
	}
	rss, err := peakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss < int64(len(buf)) {
		t.Errorf("peak RSS %d bytes, below the %d-byte buffer it touched", rss, len(buf))
	}
	runtime.KeepAlive(buf)
	if _, err := cpuTime(-1); err == nil {
		t.Error("cpu time of pid -1: want an error")
	}
}
