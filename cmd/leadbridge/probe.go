package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
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
	u, err := url.Parse(pos[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("probe: %q is not an http(s) URL", pos[0])
	}
	// Errors name the URL without its query or user info: neither belongs in
	// a health log.
	shown := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return usagef("probe %s: %v", shown, err)
	}
	req.Header.Set("User-Agent", "leadbridge-probe")
	client := &http.Client{
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("probe %s: no answer within %s", shown, *timeout)
		}
		return fmt.Errorf("probe %s: %w", shown, unwrapURLError(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("probe %s: %s", shown, resp.Status)
	}
	fmt.Fprintf(stdout, "%s %s\n", shown, resp.Status)
	return nil
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the full URL.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
