package aurora

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/enrich"
)

// Client is the Aurora side of enrich's LeadFetcher.
var _ enrich.LeadFetcher = (*Client)(nil)

const (
	// DefaultTimeout bounds one Retrieve Lead call, headers and body, when
	// NewClient builds its own http.Client. Aurora answers in well under a
	// second; ten seconds leaves room for a slow day without stalling a
	// partition's work for long.
	DefaultTimeout = 10 * time.Second

	// MaxBodyBytes is the largest Retrieve Lead body accepted. A lead is a
	// few kilobytes; the limit only guards memory against a misbehaving
	// server or proxy.
	MaxBodyBytes = 1 << 20

	// drainBytes is how much of a non-200 body is read and discarded so the
	// connection can be reused.
	drainBytes = 64 << 10
)

// Client calls Aurora's Retrieve Lead API. It is safe for concurrent use; one
// Client serves every tenant, since the token is passed per call.
type Client struct {
	base    string // without trailing slash
	baseErr error  // why base is unusable, reported by every call
	http    *http.Client
	log     *zap.Logger
	now     func() time.Time
}

// NewClient returns a client for the API at baseURL (for example
// https://api.aurorasolar.com or a sandbox's URL). httpClient may be nil: the
// client then uses its own http.Client with DefaultTimeout and Go's default
// transport. logger may be nil (no logging); the client logs one debug line
// per call with ids, status, size and duration.
//
// A baseURL that is not an absolute http(s) URL is not rejected here;
// every RetrieveLead call then fails with ErrInvalidRequest.
func NewClient(baseURL string, httpClient *http.Client, logger *zap.Logger) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: DefaultTimeout}
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	c := &Client{
		base: strings.TrimRight(baseURL, "/"),
		http: httpClient,
		log:  logger,
		now:  time.Now,
	}
	u, err := url.Parse(c.base)
	switch {
	case err != nil:
		// url.Parse's error quotes the URL, which may carry user info.
		c.baseErr = fmt.Errorf("%w: base URL does not parse", ErrInvalidRequest)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		c.baseErr = fmt.Errorf("%w: base URL must be absolute http(s)", ErrInvalidRequest)
	}
	return c
}

// RetrieveLead fetches one lead with GET {base}/tenants/{tenantID}/leads/{leadID}
// and returns the response body, the lead object as Aurora sends it, verbatim.
// It makes exactly one request; deciding whether and when to try again is
// the caller's. A failure is an *enrich.FetchError whose Kind says what it
// means to enrich (see asFetchError); it wraps the cause, an *APIError for a
// non-200 answer, with the ids, so IsRetryable, IsNotFound, IsAuth and
// RetryAfter work on it too.
func (c *Client) RetrieveLead(ctx context.Context, tenantID, token, leadID string) ([]byte, error) {
	if err := c.check(tenantID, token, leadID); err != nil {
		return nil, asFetchError(fmt.Errorf("retrieve aurora lead %q of tenant %q: %w", leadID, tenantID, err), 0)
	}
	start := c.now()
	body, status, err := c.get(ctx, "/tenants/"+url.PathEscape(tenantID)+"/leads/"+url.PathEscape(leadID), token)
	c.log.Debug("aurora retrieve lead",
		zap.String("tenant", tenantID),
		zap.String("lead_id", leadID),
		zap.Int("status", status),
		zap.Int("bytes", len(body)),
		zap.Duration("duration", time.Since(start)),
	)
	if err != nil {
		if status == http.StatusOK {
			status = 0 // a 200 whose body failed: no usable answer
		}
		return nil, asFetchError(fmt.Errorf("retrieve aurora lead %q of tenant %q: %w", leadID, tenantID, err), status)
	}
	return body, nil
}

func (c *Client) check(tenantID, token, leadID string) error {
	switch {
	case c.baseErr != nil:
		return c.baseErr
	case tenantID == "":
		return fmt.Errorf("%w: empty tenant id", ErrInvalidRequest)
	case leadID == "":
		return fmt.Errorf("%w: empty lead id", ErrInvalidRequest)
	case token == "":
		return fmt.Errorf("%w: empty api token", ErrInvalidRequest)
	case strings.ContainsFunc(token, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		// Caught here, not by the transport, so that a token read from a
		// file with its newline is a permanent error, not a retried one.
		return fmt.Errorf("%w: api token has control characters", ErrInvalidRequest)
	}
	return nil
}

// get performs one authenticated GET and returns the 200 body. status is 0
// when no answer arrived.
func (c *Client) get(ctx context.Context, path, token string) (body []byte, status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: build request", ErrInvalidRequest)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "leadbridge")

	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error quotes the URL it failed on: the base's user info, or
		// after a redirect the target's, query string included (a signed
		// URL's key). It names the route instead, with its ids.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = &url.Error{Op: ue.Op, URL: path, Err: ue.Err}
		}
		return nil, 0, err
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainBytes))
		return nil, resp.StatusCode, &APIError{
			Status:     resp.StatusCode,
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.now()),
		}
	}
	body, err = readBody(io.LimitReader(resp.Body, MaxBodyBytes+1), resp.ContentLength)
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("read response body: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, resp.StatusCode, fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, MaxBodyBytes)
	}
	// A lead is an object; anything else (an HTML page, null) is not one.
	if trimmed := bytes.TrimSpace(body); len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return nil, resp.StatusCode, fmt.Errorf("%w: %d bytes", ErrMalformedBody, len(body))
	}
	return body, resp.StatusCode, nil
}

// readBody is io.ReadAll with its first buffer sized by the response's
// Content-Length (one byte more, to read the end without growing) when that
// is known and within MaxBodyBytes: io.ReadAll starts at 512 bytes and grew
// through several copies for a lead of a few kilobytes.
func readBody(r io.Reader, contentLength int64) ([]byte, error) {
	size := 512
	if contentLength > 0 && contentLength <= MaxBodyBytes {
		size = int(contentLength) + 1
	}
	b := make([]byte, 0, size)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // let append pick the next capacity
		}
	}
}
