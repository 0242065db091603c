package wire

import (
	"math"
	"runtime/debug"
	"testing"
)

// TuneIngestGC raises GOGC and sets a soft limit only where the environment
// is silent: a GOGC or GOMEMLIMIT the user set is the runtime's to honour.
func TestTuneIngestGC(t *testing.T) {
	const buffered = 64 << 20
	tests := map[string]struct {
		env   map[string]string
		gogc  int   // want; 0: unchanged
		limit int64 // want; 0: unchanged
	}{
		"nothing set":    {env: nil, gogc: IngestGCPercent, limit: 2*buffered + 32<<20},
		"GOGC set":       {env: map[string]string{"GOGC": "100"}, limit: 2*buffered + 32<<20},
		"GOMEMLIMIT set": {env: map[string]string{"GOMEMLIMIT": "200MiB"}, gogc: IngestGCPercent},
		"both set":       {env: map[string]string{"GOGC": "off", "GOMEMLIMIT": "1GiB"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			const gogc0, limit0 = 77, math.MaxInt64 - 7 // markers: what the runtime had before
			defer debug.SetGCPercent(debug.SetGCPercent(gogc0))
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(limit0))
			TuneIngestGC(func(k string) string { return tt.env[k] }, buffered)
			wantGOGC, wantLimit := gogc0, int64(limit0)
			if tt.gogc != 0 {
				wantGOGC = tt.gogc
			}
			if tt.limit != 0 {
				wantLimit = tt.limit
			}
			if got := debug.SetGCPercent(gogc0); got != wantGOGC {
				t.Errorf("GOGC %d, want %d", got, wantGOGC)
			}
			if got := debug.SetMemoryLimit(-1); got != wantLimit {
				t.Errorf("memory limit %d, want %d", got, wantLimit)
			}
		})
	}
}
