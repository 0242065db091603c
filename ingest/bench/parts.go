package bench

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/google/pprof/profile"
)

// cpuPart is a part of a server's CPU time: the samples with a frame that
// matches re and no frame of an earlier part.
type cpuPart struct {
	name string
	re   *regexp.Regexp
}

// cpuParts split a server's CPU profile into what a 200 is made of, in
// the order they are tried: a sample belongs to the first part any frame of
// its stack matches, so a write syscall in the response counts as the
// response, one in kgo as kgo. What matches none is "other".
var cpuParts = []cpuPart{
	{"GC workers and sweeping", regexp.MustCompile(`^runtime\.(gcBgMarkWorker|bgsweep|bgscavenge|gcStart|gcMarkDone|gcMarkTermination)$`)},
	{"net/http's background read and its abort", regexp.MustCompile(`^net/http\.\(\*connReader\)\.(backgroundRead|abortPendingRead|startBackgroundRead)$`)},
	{"kgo: the produce call in the handler", regexp.MustCompile(`^github\.com/twmb/franz-go/pkg/kgo\.\(\*Client\)\.(TryProduce|produce|ProduceSync|Produce)$`)},
	{"kgo: produce requests (encode, compress, write)", regexp.MustCompile(`^github\.com/twmb/franz-go/pkg/kgo\.\(\*broker\)\.handleReqs$`)},
	{"kgo: produce responses", regexp.MustCompile(`^github\.com/twmb/franz-go/pkg/kgo\.\(\*brokerCxn\)\.handleResps$`)},
	{"kgo: promises", regexp.MustCompile(`^github\.com/twmb/franz-go/pkg/kgo\.\(\*producer\)\.finishPromises$`)},
	{"kgo: drain, linger, hooks", regexp.MustCompile(`^github\.com/twmb/franz-go/`)},
	{"response: status line, headers, write", regexp.MustCompile(`^(net/http\.\(\*response\)\.finishRequest|github\.com/labstack/echo/v4\.\(\*context\)\.(JSONBlob|Blob)|github\.com/leadbridge/leadbridge/ingest/bench\.bareHandler)$`)},
	{"the handler", regexp.MustCompile(`^github\.com/leadbridge/leadbridge/(ingest|schema)\.|^github\.com/leadbridge/leadbridge/ingest/bench\.serveNaive`)},
	{"routing: Echo (context, middleware), ServeMux", regexp.MustCompile(`^github\.com/labstack/echo/|webhooksFirst|^net/http\.\(\*ServeMux\)\.ServeHTTP$`)},
	{"request: read, parse, deadlines", regexp.MustCompile(`^net/http\.\(\*conn\)\.(readRequest|serve)$`)},
	{"scheduler: park, wake, find work", regexp.MustCompile(`^runtime\.(schedule|findRunnable|mcall|park_m|goexit0|mstart|gosched_m|sysmon|newproc|ready|wakep)$`)},
}

const (
	otherPart = "other"
	partWidth = 48 // the longest part's name, and a space
)

// profileParts reads CPU profiles and sums their CPU time by part.
func profileParts(files []string) (map[string]time.Duration, error) {
	parts := map[string]time.Duration{}
	for _, f := range files {
		if err := addProfileParts(parts, f); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

func addProfileParts(parts map[string]time.Duration, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	cpu := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" && st.Unit == "nanoseconds" {
			cpu = i
		}
	}
	if cpu < 0 {
		return fmt.Errorf("%s: not a CPU profile", file)
	}
	for _, s := range p.Sample {
		parts[partOf(s)] += time.Duration(s.Value[cpu])
	}
	return nil
}

// partOf is the part a sample's stack belongs to.
func partOf(s *profile.Sample) string {
	for _, part := range cpuParts {
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if line.Function != nil && part.re.MatchString(line.Function.Name) {
					return part.name
				}
			}
		}
	}
	return otherPart
}

// printParts prints, for each server of rows (one provider's), its CPU per
// 200 by part from the profiles of its rounds, and the profile's share of
// the CPU time read from /proc.
func printParts(w io.Writer, prefix string, rounds int, rows []benchRow) error {
	if len(rows) == 0 {
		return nil
	}
	byServer := make([]map[string]time.Duration, len(rows))
	for i, row := range rows {
		files := make([]string, rounds)
		for r := range rounds {
			files[r] = profileFile(prefix, row.server, row.provider, r+1)
		}
		parts, err := profileParts(files)
		if err != nil {
			return fmt.Errorf("cpu profile of %s: %w", row.server, err)
		}
		byServer[i] = parts
	}
	fmt.Fprintf(w, "\nwhere the CPU per 200 goes (%s, from the CPU profiles of the rounds):\n%-*s", rows[0].provider, partWidth, "part")
	for _, row := range rows {
		fmt.Fprintf(w, " %9s", row.server)
	}
	fmt.Fprintln(w)
	names := make([]string, 0, len(cpuParts)+1)
	for _, p := range cpuParts {
		names = append(names, p.name)
	}
	for _, name := range append(names, otherPart, "all, in the profile") {
		fmt.Fprintf(w, "%-*s", partWidth, name)
		for i, row := range rows {
			var d time.Duration
			if name == "all, in the profile" {
				for _, v := range byServer[i] {
					d += v
				}
			} else {
				d = byServer[i][name]
			}
			fmt.Fprintf(w, " %9s", perDelivery(d, row.res.OK()))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%-*s", partWidth, "profile / /proc")
	for i, row := range rows {
		var all time.Duration
		for _, v := range byServer[i] {
			all += v
		}
		share := "-"
		if row.cpu > 0 {
			share = fmt.Sprintf("%.0f%%", 100*all.Seconds()/row.cpu.Seconds())
		}
		fmt.Fprintf(w, " %9s", share)
	}
	fmt.Fprintln(w)
	return nil
}

// profileFile is the CPU profile of one round of a server.
func profileFile(prefix, server, provider string, round int) string {
	return fmt.Sprintf("%s.%s-%s.%d.pprof", prefix, server, provider, round)
}
