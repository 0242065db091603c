package bench

import (
	"errors"
	"fmt"
	"time"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/schema"
)

// Check reports every problem of b and the providers to run at once, named
// as bench ingest's flags, then the configuration's own (b.Cfg, from Config).
// Run expects a checked Ingest.
func (b *Ingest) Check(providers []string) error {
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	if b.Duration < 100*time.Millisecond {
		bad("--duration must be at least 100ms")
	}
	if b.Warmup < 0 {
		bad("--warmup must not be negative")
	}
	if b.Concurrency < 1 {
		bad("--concurrency must be at least 1")
	}
	if b.Rounds < 1 {
		bad("--rounds must be at least 1")
	}
	if b.BrokerPID < 0 {
		bad("--broker-pid must not be negative")
	}
	if p := b.Cfg.Topics.Partitions; p < 1 || p > 1000 {
		bad("--partitions must be between 1 and 1000")
	}
	for _, p := range providers {
		if p != schema.ProviderAurora && p != schema.ProviderLeadPro {
			bad("--provider: %q is not aurora or leadpro", p)
		}
	}
	if len(providers) == 0 {
		bad("--provider: name at least one of aurora, leadpro")
	}
	return errors.Join(append(problems, b.Cfg.Validate(config.Need{Webhooks: true}))...)
}
