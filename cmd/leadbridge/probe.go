package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/leadbridge/leadbridge/cmd/wire"
)

const probeSummary = `GET a URL and exit 0 when it answers 2xx, else 1: a container health check
for images without a shell or curl (distroless), such as

  healthcheck: {test: ["CMD", "/leadbridge", "probe", "http://localhost:8080/readyz"]}

Redirects are not followed (a 3xx fails) and proxies are not used.`

func runProbe(ctx context.Context, args []string, _ func(string) string, stdout io.Writer) error {
	fs := newFlags("probe <url>", probeSummary, stdout)
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this `duration`")
	helped, pos, err := parseFlagsAnywhere(fs, args)
	if helped || err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("probe takes one URL, got %d arguments", len(pos))
	}
	if *timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	u, ok := httpURL(pos[0])
	if !ok {
		return usagef("probe: %q is not an http(s) URL", pos[0])
	}
	status, err := wire.Probe(ctx, u, *timeout)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, status)
	return nil
}
