package wire

import (
	"runtime/debug"
)

// IngestGCPercent is ingest's GOGC when $GOGC is unset. Ingest keeps a
// small live heap and allocates a little for every webhook, so at Go's
// default of 100 the collector runs often: in `leadbridge bench ingest` it
// was about 5% of ingest's CPU profile, and GOGC=300 cut ingest's CPU per
// delivery by about 4 us of 55 for 8 MiB more peak RSS. 200 takes most of
// that for half the memory.
const IngestGCPercent = 200

// TuneIngestGC sets the collector for ingest: GOGC IngestGCPercent unless
// $GOGC is set, and, unless $GOMEMLIMIT is set (the runtime honours it as
// given), a soft memory limit of twice maxBuffered (kafka.max_buffered_bytes)
// plus 32 MiB, so that the higher GOGC cannot raise the worst case: with the
// producer's buffer full, the heap at GOGC 100 already reaches about twice it.
func TuneIngestGC(getenv func(string) string, maxBuffered int64) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(IngestGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(2*maxBuffered + 32<<20)
	}
}
