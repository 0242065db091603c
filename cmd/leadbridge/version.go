package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set by the build: go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc123".
var (
	version = "dev"
	commit  = ""
)

func runVersion(_ context.Context, args []string, _ func(string) string, stdout io.Writer) error {
	fs := newFlags("version", "Print version, commit and Go version.", stdout)
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	c := commit
	if c == "" {
		c = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
				}
			}
		}
	}
	fmt.Fprintf(stdout, "leadbridge %s (commit %s, %s)\n", version, c, runtime.Version())
	return nil
}
