package bench

import (
	"context"
	"fmt"
	"io"
)

// DoCompared runs r exactly-once, then again at-least-once on fresh topics,
// and prints the cost of exactly-once: the ratio of the two rates, measured
// in the same run. A non-empty profile is the prefix of each run's CPU
// profile (PREFIX.<name>.pprof and PREFIX.<name>-at-least-once.pprof).
func (r Run) DoCompared(ctx context.Context, brokers []string, profile string, w io.Writer) error {
	r.CPUProfile = ProfileFile(profile, r.Name)
	eos, err := r.Do(ctx, brokers, w)
	if err != nil {
		return fmt.Errorf("bench enrich %s: %w", r.Name, err)
	}
	r.AtLeastOnce = true
	r.CPUProfile = ProfileFile(profile, r.Name+"-at-least-once")
	alo, err := r.Do(ctx, brokers, w)
	if err != nil {
		return fmt.Errorf("bench enrich %s at-least-once: %w", r.Name, err)
	}
	fmt.Fprintf(w, "  exactly-once / at-least-once: %.2fx the events/s\n", eos.Rate/alo.Rate)
	return nil
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
