package enrich

// PeakOutstanding is the most records the member held polled and not yet
// committed, seen after each poll: what MaxOutstanding bounds.
func (e *Enricher) PeakOutstanding() int { return int(e.peak.Load()) }

// MaxFences is how many fences within fenceWindow stop a member.
const MaxFences = maxFences
