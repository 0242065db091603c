package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Plan is what `leadbridge bench enrich` runs: its scenarios in order and
// their settings, named as its flags.
type Plan struct {
	Scenarios []string // latency, quota, poison
	Events    int      // backlog size (raw events)
	Members   int
	InFlight  int // API calls in flight per member
	// Latency scenario (and poison's API latency).
	Latency      time.Duration
	LatencyLeads int  // distinct leads; 0: one per event
	Compare      bool // run it at-least-once too and print the ratio
	Rounds       int  // rounds of the comparison
	// Quota scenario.
	RPM, Tenants, QuotaLeads int
	// Poison scenario.
	Poison   int
	RetryFor time.Duration
	// CPUProfile is the prefix of each run's CPU profile; "" for none.
	CPUProfile string
}

// Check reports every problem of p at once, named as bench enrich's flags.
func (p Plan) Check() error {
	var problems []error
	if p.Events < 1 || p.Members < 1 || p.Tenants < 1 || p.RPM < 1 || p.QuotaLeads < 1 || p.InFlight < 1 || p.Poison < 1 || p.RetryFor <= 0 || p.Rounds < 1 {
		problems = append(problems, errors.New("--events, --members, --tenants, --rpm, --quota-leads, --max-in-flight, --poison, --retry-for and --rounds must be positive"))
	}
	for _, sc := range p.Scenarios {
		if sc != "latency" && sc != "quota" && sc != "poison" {
			problems = append(problems, fmt.Errorf("--scenario: %q is not latency, quota or poison", sc))
		}
	}
	return errors.Join(problems...)
}

// Do runs p's scenarios in turn on brokers, printing each one's report to
// w; it stops at the first that fails. p must be checked.
func (p Plan) Do(ctx context.Context, brokers []string, w io.Writer) error {
	for _, sc := range p.Scenarios {
		var r Run
		switch sc {
		case "latency":
			r = Run{Name: "latency", Tenants: 10, Leads: cmp.Or(p.LatencyLeads, p.Events), RPM: 1_000_000, Latency: p.Latency}
			r.Bound = float64(p.Members*p.InFlight) / p.Latency.Seconds()
		case "quota":
			r = Run{Name: "quota", Tenants: p.Tenants, Leads: p.QuotaLeads, RPM: p.RPM, Limit: true}
		case "poison":
			r = Run{Name: "poison", Tenants: 10, Leads: p.Events, RPM: 1_000_000, Latency: p.Latency, RetryFor: p.RetryFor}
		}
		r.Events, r.Members, r.InFlight = p.Events, p.Members, p.InFlight
		var err error
		switch {
		case sc == "poison":
			err = r.DoPoison(ctx, brokers, p.Poison, p.CPUProfile, w)
		case sc == "latency" && p.Compare:
			err = r.DoCompared(ctx, brokers, p.Rounds, p.CPUProfile, w)
		default:
			r.CPUProfile = ProfileFile(p.CPUProfile, sc)
			if _, err = r.Do(ctx, brokers, w); err != nil {
				err = fmt.Errorf("bench enrich %s: %w", sc, err)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}
