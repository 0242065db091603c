package enrich

// PeakOutstanding is the most records the member held polled and not yet
// committed, seen after each poll: what MaxOutstanding bounds.
func (e *Enricher) PeakOutstanding() int { return int(e.peak.Load()) }

// MaxFences is how many fences within fenceWindow stop a member.
const MaxFences = maxFences

// CallsAheadUsed is how many leads took the answer of a call made ahead,
// during the drain of the transaction before theirs.
func (e *Enricher) CallsAheadUsed() int64 { return e.aheadUsed.Load() }

// Rewinds is how many aborts found kgo's committed view ahead of the
// brokers' (records polled ahead before the last commit) and rewound past it.
func (e *Enricher) Rewinds() int {
	e.view.mu.Lock()
	defer e.view.mu.Unlock()
	return e.view.rewound
}
