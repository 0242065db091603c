package subscription

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/leadbridge/leadbridge/schema"
)

// Webhook is one subscription as leadbridge sees it. Secrets are
// schema.Secret so that printing a Webhook never shows them.
type Webhook struct {
	ID          string
	Description string
	Event       string
	URLTemplate string
	Enabled     bool

	HeaderAuthKey     string
	HeaderAuthValue   schema.Secret // as read: usually masked or empty
	BasicAuthUsername string
	BasicAuthPassword schema.Secret // as read: usually masked or empty
}

// Auth names the webhook's auth kind: "header", "basic" or "none".
func (w Webhook) Auth() string {
	switch {
	case w.BasicAuthUsername != "":
		return "basic"
	case w.HeaderAuthKey != "":
		return "header"
	}
	return "none"
}

// wireWebhook is the JSON shape of a subscription in Aurora's Webhooks API:
// the one place it is spelled. Only the create body is documented ("webhook":
// {description, event, url_template, enabled, header_auth_key,
// header_auth_value | basic_auth_username, basic_auth_password}); answers are
// read with the same names.
type wireWebhook struct {
	ID                flexID  `json:"id,omitempty"`
	Description       string  `json:"description"`
	Event             string  `json:"event"`
	URLTemplate       string  `json:"url_template"`
	Enabled           *bool   `json:"enabled,omitempty"`
	HeaderAuthKey     *string `json:"header_auth_key,omitempty"`
	HeaderAuthValue   *string `json:"header_auth_value,omitempty"`
	BasicAuthUsername *string `json:"basic_auth_username,omitempty"`
	BasicAuthPassword *string `json:"basic_auth_password,omitempty"`
}

// flexID reads an id given as a JSON string or number.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("webhook id is neither a string nor a number")
	}
	*f = flexID(n.String())
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (w wireWebhook) webhook() Webhook {
	return Webhook{
		ID:                string(w.ID),
		Description:       w.Description,
		Event:             w.Event,
		URLTemplate:       w.URLTemplate,
		Enabled:           w.Enabled == nil || *w.Enabled, // Aurora's create default
		HeaderAuthKey:     deref(w.HeaderAuthKey),
		HeaderAuthValue:   schema.Secret(deref(w.HeaderAuthValue)),
		BasicAuthUsername: deref(w.BasicAuthUsername),
		BasicAuthPassword: schema.Secret(deref(w.BasicAuthPassword)),
	}
}

// toWire reveals the secrets: the result is only ever marshalled into a
// request body. An update also sends the other auth kind's fields empty, so a
// switch from basic to header auth (or back) clears the old credential.
func toWire(w Webhook, update bool) wireWebhook {
	enabled := w.Enabled
	out := wireWebhook{Description: w.Description, Event: w.Event, URLTemplate: w.URLTemplate, Enabled: &enabled}
	str := func(s string) *string { return &s }
	empty := func() *string {
		if update {
			return str("")
		}
		return nil
	}
	if w.Auth() == "basic" {
		out.BasicAuthUsername, out.BasicAuthPassword = str(w.BasicAuthUsername), str(w.BasicAuthPassword.Reveal())
		out.HeaderAuthKey, out.HeaderAuthValue = empty(), empty()
	} else {
		out.HeaderAuthKey, out.HeaderAuthValue = str(w.HeaderAuthKey), str(w.HeaderAuthValue.Reveal())
		out.BasicAuthUsername, out.BasicAuthPassword = empty(), empty()
	}
	return out
}

// decodeList reads {"webhooks": [...]} or a bare array.
func decodeList(b []byte) ([]Webhook, error) {
	b = bytes.TrimSpace(b)
	var list []wireWebhook
	if len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("decode webhook list: %w", err)
		}
	} else {
		var wrapped struct {
			Webhooks []wireWebhook `json:"webhooks"`
		}
		if err := json.Unmarshal(b, &wrapped); err != nil {
			return nil, fmt.Errorf("decode webhook list: %w", err)
		}
		list = wrapped.Webhooks
	}
	out := make([]Webhook, 0, len(list))
	for _, w := range list {
		out = append(out, w.webhook())
	}
	return out, nil
}

// decodeOne reads {"webhook": {...}} or the bare object.
func decodeOne(b []byte) (Webhook, error) {
	var wrapped struct {
		Webhook *wireWebhook `json:"webhook"`
	}
	if err := json.Unmarshal(b, &wrapped); err != nil {
		return Webhook{}, fmt.Errorf("decode webhook: %w", err)
	}
	if wrapped.Webhook != nil {
		return wrapped.Webhook.webhook(), nil
	}
	var bare wireWebhook
	if err := json.Unmarshal(b, &bare); err != nil {
		return Webhook{}, fmt.Errorf("decode webhook: %w", err)
	}
	return bare.webhook(), nil
}

// APIError is an answer other than 2xx. It carries no body: Aurora's error
// bodies could echo what was sent, secrets included.
type APIError struct {
	Method, Route string // route with ids, never a query
	Status        int
}

func (e *APIError) Error() string {
	return fmt.Sprintf("aurora webhooks api: %s %s: status %d %s", e.Method, e.Route, e.Status, http.StatusText(e.Status))
}

const (
	maxBody       = 4 << 20 // a list of 26 events x 5 subscriptions is far smaller
	max429Retries = 5
	maxRetryAfter = time.Minute
)

// Client calls Aurora's Webhooks API. Every call waits for its API token's
// rate limiter first. It is safe for concurrent use.
type Client struct {
	base string
	http *http.Client
	rpm  int
	log  *zap.Logger

	mu       sync.Mutex
	limiters map[string]*rate.Limiter // API token -> its budget
}

// NewClient returns a client for the API at baseURL. requestsPerMinute is the
// budget per API token (<= 0: Aurora's default 90); calls are spaced evenly
// with no burst, so a sync never takes the whole minute's budget at once from
// the enrich group sharing the token. httpClient and logger may be nil.
func NewClient(baseURL string, requestsPerMinute int, httpClient *http.Client, logger *zap.Logger) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("aurora api url must be an absolute http(s) URL")
	}
	if requestsPerMinute <= 0 {
		requestsPerMinute = 90
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), http: httpClient, rpm: requestsPerMinute,
		log: logger, limiters: map[string]*rate.Limiter{}}, nil
}

func (c *Client) limiter(token string) *rate.Limiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.limiters[token]
	if !ok {
		l = rate.NewLimiter(rate.Every(time.Minute/time.Duration(c.rpm)), 1)
		c.limiters[token] = l
	}
	return l
}

func hooksPath(tenant string) string { return "/tenants/" + url.PathEscape(tenant) + "/webhooks" }

// List returns a tenant's subscriptions.
func (c *Client) List(ctx context.Context, tenant string, token schema.Secret) ([]Webhook, error) {
	b, err := c.do(ctx, http.MethodGet, hooksPath(tenant), token, nil)
	if err != nil {
		return nil, err
	}
	return decodeList(b)
}

// Create adds a subscription and returns it as Aurora stored it.
func (c *Client) Create(ctx context.Context, tenant string, token schema.Secret, w Webhook) (Webhook, error) {
	b, err := c.do(ctx, http.MethodPost, hooksPath(tenant), token, map[string]any{"webhook": toWire(w, false)})
	if err != nil {
		return Webhook{}, err
	}
	return decodeOne(b)
}

// Update replaces a subscription's fields with w's.
func (c *Client) Update(ctx context.Context, tenant string, token schema.Secret, id string, w Webhook) error {
	_, err := c.do(ctx, http.MethodPut, hooksPath(tenant)+"/"+url.PathEscape(id), token, map[string]any{"webhook": toWire(w, true)})
	return err
}

// Delete removes a subscription.
func (c *Client) Delete(ctx context.Context, tenant string, token schema.Secret, id string) error {
	_, err := c.do(ctx, http.MethodDelete, hooksPath(tenant)+"/"+url.PathEscape(id), token, nil)
	return err
}

// do makes one call, retrying only a 429 (after its Retry-After, bounded).
func (c *Client) do(ctx context.Context, method, path string, token schema.Secret, body any) ([]byte, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("encode webhook: %w", err)
		}
	}
	lim := c.limiter(token.Reveal())
	for attempt := 0; ; attempt++ {
		if err := lim.Wait(ctx); err != nil {
			return nil, fmt.Errorf("%s %s: wait for the rate limit: %w", method, path, err)
		}
		b, status, retryAfter, err := c.once(ctx, method, path, token, payload)
		c.log.Debug("aurora webhooks api", zap.String("method", method), zap.String("route", path), zap.Int("status", status))
		if err != nil {
			return nil, err
		}
		switch {
		case status >= 200 && status < 300:
			return b, nil
		case status == http.StatusTooManyRequests && attempt < max429Retries:
			wait := min(max(retryAfter, time.Second), maxRetryAfter)
			c.log.Info("aurora webhooks api rate limited", zap.String("route", path), zap.Duration("retry_after", wait))
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		default:
			return nil, &APIError{Method: method, Route: path, Status: status}
		}
	}
}

func (c *Client) once(ctx context.Context, method, path string, token schema.Secret, payload []byte) ([]byte, int, time.Duration, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s %s: build request", method, path)
	}
	req.Header.Set("Authorization", "Bearer "+token.Reveal())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "leadbridge")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error quotes the URL it failed on: the base's user info, or
		// after a redirect the target's, query string included. Method and
		// route say which call it was.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, 0, 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, resp.StatusCode, 0, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	var retryAfter time.Duration
	if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs > 0 {
		retryAfter = time.Duration(secs) * time.Second
	}
	return b, resp.StatusCode, retryAfter, nil
}
