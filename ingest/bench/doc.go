// Package bench is the ingest benchmark beside ingest (`leadbridge bench
// ingest`): ingest as production wires it (cmd/wire) on a real broker,
// next to this machine's ceiling, a bare net/http server that answers 200
// at once, both driven by the simulator's load generator (ingest/simulate)
// in alternating rounds. It reports ratios against that same-run baseline,
// never absolute timings.
package bench
