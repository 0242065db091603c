package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat: USER_HZ, 100
// on every Linux architecture Go supports. At 10 ms a tick, a 15 s round
// that keeps a server busy measures its CPU time to better than 1%.
const userHZ = 100

// cpuTime returns the user plus system CPU time process pid has used, all
// its threads together, dead ones included, from /proc/<pid>/stat (Linux).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu time of pid %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15, the 12th and 13th after it.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("cpu time of pid %d: unexpected /proc/%d/stat", pid, pid)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time of pid %d: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// peakRSS returns the peak resident set size of process pid so far in
// bytes (VmHWM in /proc/<pid>/status, Linux).
func peakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("peak RSS of pid %d: %w", pid, err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak RSS of pid %d: %w", pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("peak RSS of pid %d: no VmHWM in /proc/%d/status", pid, pid)
}

// machineTime is the whole machine's CPU time from /proc/stat (Linux),
// all CPUs together: busy is user, nice, system, irq and softirq time;
// softirq (with irq) is the part /proc/stat books apart, though a process's
// own CPU time includes what ran in its context (loopback TCP's receive
// path runs in the sender's softirq: without it the processes' times summed
// to more than user plus system); steal is time the hypervisor ran
// something else.
type machineTime struct{ busy, softirq, steal time.Duration }

func readMachineTime() (machineTime, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineTime{}, fmt.Errorf("machine cpu time: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return machineTime{}, errors.New("machine cpu time: unexpected /proc/stat")
	}
	var t [8]time.Duration // user nice system idle iowait irq softirq steal
	for i := range t {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return machineTime{}, fmt.Errorf("machine cpu time: %w", err)
		}
		t[i] = time.Duration(n) * time.Second / userHZ
	}
	return machineTime{busy: t[0] + t[1] + t[2] + t[5] + t[6], softirq: t[5] + t[6], steal: t[7]}, nil
}

func (m machineTime) sub(o machineTime) machineTime {
	return machineTime{busy: m.busy - o.busy, softirq: m.softirq - o.softirq, steal: m.steal - o.steal}
}
