// Package bench is the ingest benchmark beside ingest (`leadbridge bench
// ingest`): ingest as production wires it (cmd/wire) on a real broker, next
// to two references, this machine's ceiling (a bare net/http server that
// answers 200 at once) and the naive handler (net/http, a token check, a
// JSON value, ProduceSync). Each server runs as a child process of its own
// (`leadbridge bench serve`), so that its CPU time and peak RSS can be read
// from /proc; the simulator's load generator (ingest/simulate) drives them in
// alternating rounds from the parent, which also reads the broker's CPU time.
// It reports ratios against those same-run references, never absolute timings.
// Ingest.Check refuses a run's settings as the command's flags name them.
package bench
