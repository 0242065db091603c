package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Probe GETs u and reports its status line when it answers 2xx, else an
// error: the health check of shell-less containers (`leadbridge probe`).
// Redirects are not followed (a 3xx fails) and proxies are not used. Errors
// name the URL without its query or user info: neither belongs in a health log.
func Probe(ctx context.Context, u *url.URL, timeout time.Duration) (string, error) {
	shown := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("probe %s: %w", shown, err)
	}
	req.Header.Set("User-Agent", "leadbridge-probe")
	client := &http.Client{
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("probe %s: no answer within %s", shown, timeout)
		}
		if ue, ok := errors.AsType[*url.Error](err); ok { // its text repeats the full URL
			err = ue.Err
		}
		return "", fmt.Errorf("probe %s: %w", shown, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("probe %s: %s", shown, resp.Status)
	}
	return shown + " " + resp.Status, nil
}
