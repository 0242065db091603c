package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
)

// DoCompared runs r exactly-once and at-least-once, each on fresh topics,
// rounds times, and prints the cost of exactly-once: the ratio of the two
// rates, measured in the same run. A round runs both modes back to back,
// and which goes first alternates, so that a machine growing busier or
// quieter weighs on both alike; with more than one round it prints each
// round's ratio and their median. A non-empty profile is the prefix of the
// first round's CPU profiles (PREFIX.<name>.pprof and
// PREFIX.<name>-at-least-once.pprof).
func (r Run) DoCompared(ctx context.Context, brokers []string, rounds int, profile string, w io.Writer) error {
	var ratios []float64
	for i := range max(rounds, 1) {
		var eos, alo Result
		for _, atLeastOnce := range [][]bool{{false, true}, {true, false}}[i%2] {
			r := r
			r.AtLeastOnce = atLeastOnce
			name, mode := r.Name, "exactly-once"
			if atLeastOnce {
				name, mode = r.Name+"-at-least-once", "at-least-once"
			}
			if i == 0 {
				r.CPUProfile = ProfileFile(profile, name)
			}
			res, err := r.Do(ctx, brokers, w)
			if err != nil {
				return fmt.Errorf("bench enrich %s %s: %w", r.Name, mode, err)
			}
			if atLeastOnce {
				alo = res
			} else {
				eos = res
			}
		}
		ratios = append(ratios, eos.Rate/alo.Rate)
		fmt.Fprintf(w, "  exactly-once / at-least-once: %.2fx the events/s\n", eos.Rate/alo.Rate)
	}
	if len(ratios) > 1 {
		sorted := slices.Sorted(slices.Values(ratios))
		fmt.Fprintf(w, "\nexactly-once / at-least-once over %d rounds (alternating which runs first): median %.2fx, range %.2f-%.2fx\n",
			len(ratios), median(sorted), sorted[0], sorted[len(sorted)-1])
	}
	return nil
}

// median of sorted values.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// DoPoison runs issue 7's poison scenario with one member: r's backlog
// alone as the baseline, then, on fresh topics, the same backlog behind
// poison leads whose API answers 500 forever, and prints the ratio of the
// good leads' times (the goal: at most 1.2x).
func (r Run) DoPoison(ctx context.Context, brokers []string, poison int, profile string, w io.Writer) error {
	r.Members = 1
	r.CPUProfile = ProfileFile(profile, "poison-baseline")
	base, err := r.Do(ctx, brokers, w)
	if err != nil {
		return fmt.Errorf("bench enrich poison baseline: %w", err)
	}
	r.Poison = poison
	r.CPUProfile = ProfileFile(profile, "poison")
	with, err := r.Do(ctx, brokers, w)
	if err != nil {
		return fmt.Errorf("bench enrich poison: %w", err)
	}
	fmt.Fprintf(w, "  good leads: %.1fs without poison, %.1fs behind %d poison leads = %.2fx (goal: at most 1.20x)\n",
		base.Took.Seconds(), with.Took.Seconds(), poison, with.Took.Seconds()/base.Took.Seconds())
	return nil
}

// ProfileFile is the CPU profile file of a run named name under a
// --cpuprofile prefix: prefix.name.pprof, or "" (no profile) for no prefix.
func ProfileFile(prefix, name string) string {
	if prefix == "" {
		return ""
	}
	return prefix + "." + name + ".pprof"
}
