package enrich

import (
	"math/rand/v2"
	"time"
)

// backoff is exponential with equal jitter: attempt n waits between half and
// all of min(max, base*2^n), so members retrying together spread out.
func backoff(base, maxWait time.Duration, attempt int) time.Duration {
	d := base
	for i := 0; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	return d/2 + rand.N(d/2+1)
}
