package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Load says where Run sends and how much: what `leadbridge simulate`'s
// flags set.
type Load struct {
	URL         string        // ingest's base URL, absolute http(s)
	N           int           // deliveries, at least 1
	Concurrency int           // deliveries in flight at once, at least 1
	Rate        float64       // at most this many deliveries per second; 0: no limit
	Timeout     time.Duration // per delivery, positive
}

// Check reports every problem of l at once (named as simulate's flags).
func (l Load) Check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, err := l.target(); err != nil {
		bad("--url %q is not an http(s) URL", l.URL)
	}
	if l.N < 1 {
		bad("-n must be at least 1")
	}
	if l.Concurrency < 1 {
		bad("--concurrency must be at least 1")
	}
	if l.Timeout <= 0 {
		bad("--timeout must be positive")
	}
	return errors.Join(errs...)
}

// target is l.URL without a trailing slash, for the deliveries' paths.
func (l Load) target() (string, error) {
	u, err := url.Parse(l.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("not an http(s) URL")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u.String(), nil
}

// Run sends l.N deliveries of s, which must be prepared (Prepare), as l
// says. One delivery prints its request line, the answer's status and body
// (SendOne); more print a summary (Result.Print). It returns an error when
// any delivery was not answered 200.
func (s *Simulator) Run(ctx context.Context, l Load, w io.Writer) error {
	target, err := l.target()
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	client := NewClient(l.Concurrency, l.Timeout)
	defer client.CloseIdleConnections()
	if l.N == 1 {
		return s.SendOne(ctx, client, target, w)
	}
	next := func(i int) (*http.Request, error) {
		d, err := s.Delivery(i)
		if err != nil {
			return nil, err
		}
		return d.Request(ctx, target)
	}
	res := Generate(ctx, client, l.N, l.Concurrency, l.Rate, next)
	res.Print(w, s.Provider+" "+s.Event, target, l.Concurrency, l.Rate)
	if ok := res.OK(); ok != res.Requests || res.Requests != l.N {
		return fmt.Errorf("%d of %d deliveries were not answered 200", l.N-ok, l.N)
	}
	return nil
}
