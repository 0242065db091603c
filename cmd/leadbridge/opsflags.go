package main

import (
	"errors"
	"strings"
	"time"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/schema"
)

// listFlag is a flag that may be given several times; each value may also
// be a comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, config.SplitList(v)...)
	return nil
}

// reasonsFlag is a repeatable --reason: DLQ reasons, each one enrich
// writes. A typo is a usage error: it would match nothing, in a redrive
// group of its own.
type reasonsFlag struct{ listFlag }

func (r *reasonsFlag) Set(v string) error {
	for _, s := range config.SplitList(v) {
		if _, err := schema.ParseDLQReason(s); err != nil {
			return err
		}
	}
	return r.listFlag.Set(v)
}

// timeFlag is a point in time: RFC 3339 (2026-11-30T04:00:00Z) or a
// duration before now (90m, 2h).
type timeFlag struct {
	t   time.Time
	ago time.Duration // when given as a duration: how long before now
	now func() time.Time
}

func (f *timeFlag) String() string {
	if f == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(v string) error {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		f.t, f.ago = t, 0
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return errors.New("want an RFC 3339 time or a duration ago such as 2h")
	}
	now := time.Now
	if f.now != nil {
		now = f.now
	}
	f.t, f.ago = now().Add(-d), d
	return nil
}
