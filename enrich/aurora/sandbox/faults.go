package sandbox

import (
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/leadbridge/leadbridge/schema"
)

// Fault replaces the answer to one Retrieve Lead call.
type Fault struct {
	// Status is the HTTP status answered instead of the real one, with an
	// {"error": ...} body. 200 is allowed and answers the lead normally
	// (useful to interleave successes in a sequence).
	Status int
	// RetryAfter is sent as Retry-After in delta-seconds (rounded up) when
	// positive. A 429 without one is sent "Retry-After: 1", as Aurora always
	// says when to come back.
	RetryAfter time.Duration
	// RetryAfterDate sends Retry-After as an HTTP-date (now + RetryAfter)
	// instead of delta-seconds, the other form RFC 9110 allows.
	RetryAfterDate bool
}

// Repeat returns n copies of f, for FailNext(lead, Repeat(f, 3)...).
func Repeat(f Fault, n int) []Fault {
	out := make([]Fault, max(n, 0))
	for i := range out {
		out[i] = f
	}
	return out
}

// FailNext queues faults for the next Retrieve Lead calls of leadID (any
// tenant), one fault per call, in order, after any already queued. With
// leadID "" the faults apply to calls for any lead that has no queue of its
// own. Calls refused earlier (401, rate limit 429) consume no fault.
func (s *Server) FailNext(leadID string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[leadID] = append(s.faults[leadID], faults...)
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// takeFault pops the next fault for leadID, its own queue first.
func (s *Server) takeFault(leadID string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range []string{leadID, ""} {
		if q := s.faults[key]; len(q) > 0 {
			s.faults[key] = q[1:]
			if len(q) == 1 {
				delete(s.faults, key)
			}
			return q[0], true
		}
	}
	return Fault{}, false
}

// writeFault answers f; it reports false for a 200 fault, which the caller
// answers normally.
func (s *Server) writeFault(w http.ResponseWriter, f Fault) bool {
	if f.Status == http.StatusOK {
		return false
	}
	ra := f.RetryAfter
	if ra <= 0 && f.Status == http.StatusTooManyRequests {
		ra = time.Second
	}
	if ra > 0 {
		if f.RetryAfterDate {
			w.Header().Set("Retry-After", s.now().Add(ra).UTC().Format(http.TimeFormat))
		} else {
			w.Header().Set("Retry-After", schema.RetryAfter(ra))
		}
	}
	writeError(w, f.Status)
	return true
}

// SetRateLimit changes the per-token limit: at most perWindow calls in any
// sliding window (default one minute when window <= 0); 0 disables it.
// Calls already let through keep counting against the new limit.
func (s *Server) SetRateLimit(perWindow int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setRateLimitLocked(perWindow, window)
}

func (s *Server) setRateLimitLocked(perWindow int, window time.Duration) {
	if window <= 0 {
		window = time.Minute
	}
	s.rateLimit, s.rateWindow = max(perWindow, 0), window
}

// admit applies the rate limit to a call of token arriving at t. It keeps a
// log of the calls it let through in the last window (a sliding log, exact
// rather than approximated); refused calls do not count, so a client that
// backs off is served again once the window slides. wait is how long until
// one more call would be let through.
func (s *Server) admit(token string, t time.Time) (wait time.Duration, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rateLimit == 0 {
		return 0, true
	}
	log := s.accepted[token]
	cut := 0
	for cut < len(log) && !log[cut].After(t.Add(-s.rateWindow)) {
		cut++
	}
	log = log[cut:]
	if len(log) >= s.rateLimit {
		s.accepted[token] = log
		return log[0].Add(s.rateWindow).Sub(t), false
	}
	s.accepted[token] = append(log, t)
	return 0, true
}

// Stats count API calls (every request to a /tenants route, whatever its
// answer) since New or ResetStats.
type Stats struct {
	Total    int
	ByTenant map[string]int // tenant id -> calls
	ByLead   map[string]int // lead id -> calls to /tenants/{t}/leads/{lead_id}, any method
	ByStatus map[int]int    // HTTP status answered -> calls (499: caller gone during latency)
	// ByRoute counts by route pattern, e.g. "GET /tenants/{tenant_id}/leads/{lead_id}".
	ByRoute map[string]int
}

func newStats() Stats {
	return Stats{
		ByTenant: map[string]int{},
		ByLead:   map[string]int{},
		ByStatus: map[int]int{},
		ByRoute:  map[string]int{},
	}
}

// RouteRetrieveLead is the ByRoute key of Retrieve Lead calls.
const RouteRetrieveLead = "GET /tenants/{tenant_id}/leads/{lead_id}"

func (s *Server) count(r *http.Request, tenant string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Total++
	s.stats.ByTenant[tenant]++
	if lead := r.PathValue("lead_id"); lead != "" {
		s.stats.ByLead[lead]++
	}
	s.stats.ByStatus[status]++
	s.stats.ByRoute[r.Pattern]++
}

// Stats returns a copy of the call counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Total:    s.stats.Total,
		ByTenant: maps.Clone(s.stats.ByTenant),
		ByLead:   maps.Clone(s.stats.ByLead),
		ByStatus: maps.Clone(s.stats.ByStatus),
		ByRoute:  maps.Clone(s.stats.ByRoute),
	}
}

// ResetStats zeroes the counters and empties the call log. The rate limiter
// keeps its window: resetting measurement does not hand out free quota.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = newStats()
	clear(s.callLog)
}

// Calls returns the arrival times of every API call made with token (any
// tenant, any answer, including 401 and 429), oldest first.
func (s *Server) Calls(token string) []time.Time {
	s.mu.Lock()
	log := slices.Clone(s.callLog[token])
	s.mu.Unlock()
	slices.SortFunc(log, time.Time.Compare)
	return log
}

// MaxCallsInWindow returns the largest number of calls made with token that
// arrived within any window of the given length (a half-open interval
// [t, t+window)). A client that holds a quota of R per minute keeps
// MaxCallsInWindow(token, time.Minute) <= R.
func (s *Server) MaxCallsInWindow(token string, window time.Duration) int {
	if window <= 0 {
		return 0
	}
	log := s.Calls(token)
	best, i := 0, 0
	for j := range log {
		for log[j].Sub(log[i]) >= window {
			i++
		}
		best = max(best, j-i+1)
	}
	return best
}
