package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/schema"
)

// Environment variables simulate reads its secrets from, so that they need
// not appear on a command line (shell history, ps).
const (
	envSimToken    = "LEADBRIDGE_SIM_TOKEN"    // Aurora header token
	envSimPassword = "LEADBRIDGE_SIM_PASSWORD" // Aurora basic auth password
	envSimSecret   = "LEADBRIDGE_SIM_SECRET"   // LeadPro signing secret
)

const simSummary = `Send Aurora or LeadPro webhooks to a leadbridge ingest, authenticated as the provider would.

One delivery by default: prints the request line, the answer's status and body.
With -n N it sends N deliveries (--concurrency at a time, at most --rate per
second) and prints a summary: answers per status code, throughput and latency
percentiles. It exits 1 when any delivery is not answered 200.

Aurora: GET /webhooks/aurora/{tenant}/{event}?<attributes> (--path-style static:
?aurora_event={event}). Every id attribute the event requires that --attr does
not set gets a new UUID per delivery, so N deliveries are about N different
leads (--same-lead: one set of ids for all). LeadPro: POST /webhooks/leadpro/{account}
with a realistic lead as JSON and the same payload as an HS256 JWT (iat now) in
Authorization; data.id is new per delivery (--same-lead: one id). --attr sets
LeadPro data fields.

Credentials: flags and LEADBRIDGE_SIM_TOKEN / LEADBRIDGE_SIM_PASSWORD /
LEADBRIDGE_SIM_SECRET win; otherwise they come from the configuration
(--config, LEADBRIDGE_CONFIG or LEADBRIDGE_* variables, read as ingest reads
it): the tenant's header token or basic auth, the account's first signing
secret. Without --tenant / --account, the first one configured is used.
Prefer the environment variables to the secret flags.`

func runSimulate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("simulate", simSummary, stdout)
	path := configFlag(fs, getenv)
	baseURL := fs.String("url", "http://127.0.0.1:8080", "ingest base `URL`")
	provider := fs.String("provider", schema.ProviderAurora, "aurora or leadpro")
	event := fs.String("event", "", "Aurora event name (default lead_created), or LeadPro lead.created (default) or lead.updated")
	tenant := fs.String("tenant", "", "Aurora tenant `id` (default: the configuration's first tenant)")
	account := fs.String("account", "", "LeadPro account `id` (default: the configuration's first account)")
	attrs := attrFlag{}
	fs.Var(attrs, "attr", "an Aurora query attribute or a LeadPro data field, as `key=value`; repeat for more")
	sameLead := fs.Bool("same-lead", false, "use one set of generated ids for every delivery (default: new ids per delivery)")
	pathStyle := fs.String("path-style", "path", "Aurora: path (event in the path) or static (?aurora_event=)")
	token := fs.String("token", "", "Aurora header token (default $"+envSimToken+", else from the configuration)")
	header := fs.String("header", "", "Aurora token header `name` (default: the configured one, else X-Aurora-Webhook-Token)")
	basicUser := fs.String("basic-user", "", "Aurora basic auth user `name` (instead of a header token)")
	basicPass := fs.String("basic-pass", "", "Aurora basic auth `password` (default $"+envSimPassword+", else from the configuration)")
	secret := fs.String("secret", "", "LeadPro signing `secret` (default $"+envSimSecret+", else from the configuration)")
	n := fs.Int("n", 1, "number of deliveries")
	rate := rateFlag(0)
	fs.Var(&rate, "rate", "at most this many deliveries per second, `R` or R/s (0: as fast as possible)")
	concurrency := fs.Int("concurrency", 8, "deliveries in flight at once")
	timeout := fs.Duration("timeout", 15*time.Second, "per-delivery timeout")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}

	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	base, err := url.Parse(*baseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		bad("--url %q is not an http(s) URL", *baseURL)
	}
	if *n < 1 {
		bad("-n must be at least 1")
	}
	if *concurrency < 1 {
		bad("--concurrency must be at least 1")
	}
	if *timeout <= 0 {
		bad("--timeout must be positive")
	}
	if *pathStyle != "path" && *pathStyle != "static" {
		bad("--path-style must be path or static")
	}
	switch *provider {
	case schema.ProviderAurora:
		*event = cmp.Or(*event, "lead_created")
		if !schema.ValidAuroraEventName(*event) {
			bad("--event %q is not an Aurora event name ([a-z0-9_]{1,64})", *event)
		}
	case schema.ProviderLeadPro:
		*event = cmp.Or(*event, schema.LeadProLeadCreated)
		if *event != schema.LeadProLeadCreated && *event != schema.LeadProLeadUpdated {
			bad("--event must be lead.created or lead.updated for leadpro")
		}
		if v, ok := attrs["id"]; ok {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				bad("--attr id=...: a LeadPro data.id is a number")
			}
		}
	default:
		bad("--provider must be aurora or leadpro")
	}
	if len(problems) > 0 {
		return usageError{errors.Join(problems...)}
	}

	sim := &simulator{
		provider: *provider, event: *event, attrs: attrs, sameLead: *sameLead,
		static: *pathStyle == "static", now: time.Now,
	}
	creds := simCreds{
		token:     schema.Secret(cmp.Or(*token, getenv(envSimToken))),
		header:    *header,
		basicUser: *basicUser,
		basicPass: schema.Secret(cmp.Or(*basicPass, getenv(envSimPassword))),
		secret:    schema.Secret(cmp.Or(*secret, getenv(envSimSecret))),
	}
	if err := sim.authenticate(creds, *tenant, *account, *path, getenv); err != nil {
		return err
	}
	sim.prepare()
	base.Path = strings.TrimRight(base.Path, "/")
	target := base.String()

	client := newLoadClient(*concurrency, *timeout)
	defer client.CloseIdleConnections()
	if *n == 1 {
		return sim.sendOne(ctx, client, target, stdout)
	}
	next := func(i int) (*http.Request, error) {
		d, err := sim.delivery(i)
		if err != nil {
			return nil, err
		}
		return d.request(ctx, target)
	}
	res := generateLoad(ctx, client, *n, *concurrency, float64(rate), next)
	what := fmt.Sprintf("%s %s", *provider, *event)
	res.print(stdout, what, target, *concurrency, float64(rate))
	if ok := res.Status[http.StatusOK]; ok != res.Requests || res.Requests != *n {
		return fmt.Errorf("%d of %d deliveries were not answered 200", *n-ok, *n)
	}
	return nil
}

// simCreds are the credentials given by flags or LEADBRIDGE_SIM_* variables.
type simCreds struct {
	token, basicPass, secret schema.Secret
	header, basicUser        string
}

// auroraComplete reports whether the flags alone authenticate an Aurora delivery.
func (c simCreds) auroraComplete() bool {
	if c.basicUser != "" {
		return c.basicPass != ""
	}
	return c.token != ""
}

// simulator builds provider deliveries. After prepare, delivery is safe for
// concurrent use.
type simulator struct {
	provider, event string
	attrs           map[string]string // --attr
	sameLead        bool
	static          bool // Aurora: ?aurora_event= instead of the event in the path
	now             func() time.Time

	tenant, account string
	// Aurora: a header token, or basic auth when basicUser is set.
	header, basicUser string
	token, basicPass  schema.Secret
	// LeadPro
	secret schema.Secret

	fixedIDs map[string]string // --same-lead: the Aurora ids of every delivery
	idBase   int64             // LeadPro data.id of delivery 0; delivery i gets idBase+i
}

// authenticate fills the tenant or account and its credentials, from creds
// first and from the configuration for whatever creds leave out.
func (s *simulator) authenticate(creds simCreds, tenant, account, path string, getenv func(string) string) error {
	aurora := s.provider == schema.ProviderAurora
	complete := (aurora && tenant != "" && creds.auroraComplete()) ||
		(!aurora && account != "" && creds.secret != "")
	envConfig := getenv("LEADBRIDGE_AURORA_TENANT_ID") != "" || getenv("LEADBRIDGE_LEADPRO_ACCOUNT_ID") != ""
	var cfg config.Config
	haveCfg := path != "" || (!complete && envConfig)
	if haveCfg {
		var err error
		if cfg, err = loadValid(path, getenv, need{webhooks: true}); err != nil {
			return err
		}
	}
	if aurora {
		return s.auroraAuth(creds, tenant, cfg, haveCfg)
	}
	s.account = account
	var acct *config.Account
	for i := range cfg.LeadPro.Accounts {
		if a := &cfg.LeadPro.Accounts[i]; account == "" || a.ID == account {
			acct = a
			break
		}
	}
	if s.account == "" && acct != nil {
		s.account = acct.ID
	}
	s.secret = creds.secret
	if s.secret == "" && acct != nil {
		s.secret = acct.SigningSecrets[0]
	}
	switch {
	case s.account == "":
		return usagef("leadpro needs --account, or a configuration with an account (--config)")
	case s.secret == "" && haveCfg:
		return usagef("account %s is not in the configuration; give --secret or $%s", s.account, envSimSecret)
	case s.secret == "":
		return usagef("leadpro needs a signing secret: $%s, --secret or --config", envSimSecret)
	}
	return nil
}

func (s *simulator) auroraAuth(creds simCreds, tenant string, cfg config.Config, haveCfg bool) error {
	s.tenant = tenant
	var tc *config.Tenant
	for i := range cfg.Aurora.Tenants {
		if t := &cfg.Aurora.Tenants[i]; tenant == "" || t.ID == tenant {
			tc = t
			break
		}
	}
	if s.tenant == "" && tc != nil {
		s.tenant = tc.ID
	}
	if s.tenant == "" {
		return usagef("aurora needs --tenant, or a configuration with a tenant (--config)")
	}
	var cfgBasic *config.Basic
	if tc != nil {
		cfgBasic = tc.WebhookAuth.Basic
	}
	switch {
	case creds.basicUser != "": // basic auth from the flags
		s.basicUser, s.basicPass = creds.basicUser, creds.basicPass
		if s.basicPass == "" && cfgBasic != nil {
			s.basicPass = cfgBasic.Passwords[0]
		}
	case creds.token != "": // a header token from the flags
		s.token = creds.token
		s.header = creds.header
		if s.header == "" && tc != nil && cfgBasic == nil {
			s.header = tc.WebhookAuth.Header
		}
		s.header = cmp.Or(s.header, "X-Aurora-Webhook-Token")
	case cfgBasic != nil: // the configured basic auth, maybe with another password
		s.basicUser, s.basicPass = cfgBasic.Username, cmp.Or(creds.basicPass, cfgBasic.Passwords[0])
	case tc != nil: // the configured header token
		s.header, s.token = cmp.Or(creds.header, tc.WebhookAuth.Header), tc.WebhookAuth.Tokens[0]
	case haveCfg:
		return usagef("tenant %s is not in the configuration; give --token (or $%s) or --basic-user and --basic-pass", s.tenant, envSimToken)
	default:
		return usagef("aurora needs credentials: $%s or --token, --basic-user with --basic-pass (or $%s), or --config",
			envSimToken, envSimPassword)
	}
	if s.basicUser != "" && s.basicPass == "" {
		return usagef("--basic-user needs a password: $%s or --basic-pass", envSimPassword)
	}
	return nil
}

// prepare draws the ids that stay the same across deliveries.
func (s *simulator) prepare() {
	// JSON numbers above 2^53 lose precision in JavaScript; stay well below.
	s.idBase = 1 + rand.Int64N(1<<40)
	if v, ok := s.attrs["id"]; ok {
		s.idBase, _ = strconv.ParseInt(v, 10, 64) // checked with the flags
	}
	s.fixedIDs = s.newIDs()
}

// newIDs returns a UUID for every id attribute the event requires that --attr does not set.
func (s *simulator) newIDs() map[string]string {
	ids := map[string]string{}
	if ev, ok := schema.AuroraEventNamed(s.event); ok {
		for _, a := range ev.Required() {
			if _, set := s.attrs[a]; !set {
				ids[a] = uuid.NewString()
			}
		}
	}
	return ids
}

// simDelivery is one webhook request, ready to be sent to any base URL.
type simDelivery struct {
	method string
	path   string // path and query, after the base URL
	header http.Header
	body   []byte
}

func (d simDelivery) request(ctx context.Context, base string) (*http.Request, error) {
	var body io.Reader
	if d.body != nil {
		body = bytes.NewReader(d.body)
	}
	r, err := http.NewRequestWithContext(ctx, d.method, base+d.path, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	r.Header = d.header.Clone()
	return r, nil
}

// delivery builds delivery number i.
func (s *simulator) delivery(i int) (simDelivery, error) {
	if s.provider == schema.ProviderLeadPro {
		return s.leadpro(i)
	}
	return s.aurora(), nil
}

func (s *simulator) aurora() simDelivery {
	q := url.Values{}
	for k, v := range s.attrs {
		q.Set(k, v)
	}
	ids := s.fixedIDs
	if !s.sameLead {
		ids = s.newIDs()
	}
	for k, v := range ids {
		q.Set(k, v)
	}
	p := "/webhooks/aurora/" + url.PathEscape(s.tenant)
	if s.static {
		q.Set("aurora_event", s.event)
	} else {
		p += "/" + url.PathEscape(s.event)
	}
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	h := http.Header{}
	if s.basicUser != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(s.basicUser+":"+s.basicPass.Reveal())))
	} else {
		h.Set(s.header, s.token.Reveal())
	}
	return simDelivery{method: http.MethodGet, path: p, header: h}
}

// simPeople are the leads LeadPro deliveries describe, in turn.
var simPeople = []struct{ first, last, street, town, postcode string }{
	{"Ada", "Lovelace", "12 Analytical Row", "London", "EC1A 1BB"},
	{"Richard", "Branson", "51 Asimov Place", "Starbridge", "N1 3JY"},
	{"Mary", "Somerville", "3 Orbit Lane", "Jedburgh", "TD8 6AB"},
	{"Alan", "Turing", "7 Bletchley Close", "Milton Keynes", "MK3 6EB"},
	{"Rosalind", "Franklin", "22 Helix Street", "Cambridge", "CB2 1TN"},
}

// jwtHS256Header is the encoded JOSE header LeadPro's tokens carry.
var jwtHS256Header = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

func (s *simulator) leadpro(i int) (simDelivery, error) {
	id := s.idBase
	if !s.sameLead {
		id += int64(i)
	}
	p := simPeople[int(id%int64(len(simPeople)))]
	now := s.now()
	data := map[string]any{
		"id":         id,
		"first_name": p.first,
		"last_name":  p.last,
		"full_name":  p.first + " " + p.last,
		"email":      fmt.Sprintf("%s.%s+%d@example.com", strings.ToLower(p.first), strings.ToLower(p.last), id),
		// Ofcom's range reserved for drama: a UK mobile number that rings nobody.
		"phone":     fmt.Sprintf("07700 900%03d", id%1000),
		"type":      "vendor",
		"source":    "homepage",
		"address":   p.street + ", " + p.town,
		"postcode":  p.postcode,
		"status":    "UNREAD",
		"createdAt": now.UTC().Format("2006-01-02T15:04:05.000Z"),
	}
	for k, v := range s.attrs {
		if k != "id" {
			data[k] = v
		}
	}
	payload, err := json.Marshal(map[string]any{"event": s.event, "data": data, "iat": now.Unix()})
	if err != nil {
		return simDelivery{}, fmt.Errorf("encode payload: %w", err)
	}
	// Sign the exact bytes sent as the body: the token's payload is what ingest
	// publishes, and a body that matches it is what LeadPro sends.
	unsigned := jwtHS256Header + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwt.SigningMethodHS256.Sign(unsigned, []byte(s.secret.Reveal()))
	if err != nil {
		return simDelivery{}, fmt.Errorf("sign token: %w", err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+unsigned+"."+base64.RawURLEncoding.EncodeToString(sig))
	h.Set("Content-Type", "application/json")
	return simDelivery{method: http.MethodPost, path: "/webhooks/leadpro/" + url.PathEscape(s.account), header: h, body: payload}, nil
}

// sendOne sends delivery 0 and prints the request line, the status and the body.
func (s *simulator) sendOne(ctx context.Context, client *http.Client, target string, w io.Writer) error {
	d, err := s.delivery(0)
	if err != nil {
		return err
	}
	req, err := d.request(ctx, target)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s %s\n", req.Method, req.URL.Redacted())
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("send delivery: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	fmt.Fprintf(w, "%s\n%s\n", resp.Status, bytes.TrimRight(body, "\n"))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the delivery was answered %d", resp.StatusCode)
	}
	return nil
}

// attrFlag collects repeated key=value flags.
type attrFlag map[string]string

func (a attrFlag) String() string { return "" }

func (a attrFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return errors.New("want key=value")
	}
	a[k] = val
	return nil
}

// rateFlag is a rate per second, written R or R/s.
type rateFlag float64

func (r *rateFlag) String() string {
	if r == nil || *r == 0 {
		return "0"
	}
	return strconv.FormatFloat(float64(*r), 'g', -1, 64) + "/s"
}

func (r *rateFlag) Set(v string) error {
	f, err := strconv.ParseFloat(strings.TrimSuffix(v, "/s"), 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return errors.New("want a rate per second, R or R/s, 0 for no limit")
	}
	*r = rateFlag(f)
	return nil
}

// newLoadClient returns an HTTP client that keeps one connection per worker alive.
func newLoadClient(concurrency int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        concurrency,
			MaxIdleConnsPerHost: concurrency,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// loadResult is what generateLoad measured.
type loadResult struct {
	Requests  int           // requests started
	Status    map[int]int   // answers by HTTP status code
	NoAnswer  int           // requests that got no HTTP answer (refused, timed out, canceled)
	FirstErr  error         // why the first of those failed
	Elapsed   time.Duration // from the first request to the last answer
	latencies []time.Duration
}

// OK is the number of 200 answers.
func (r loadResult) OK() int { return r.Status[http.StatusOK] }

// Errors is the number of requests not answered 200.
func (r loadResult) Errors() int { return r.Requests - r.OK() }

// PerSecond is requests finished per second of Elapsed.
func (r loadResult) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Percentile returns the latency at p (0..1] of answered requests, nearest rank.
func (r loadResult) Percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(r.latencies)))) - 1
	return r.latencies[max(0, min(i, len(r.latencies)-1))]
}

// generateLoad sends n requests, built by next, with concurrency workers
// each waiting for its answer before its next request, and at most rate
// requests per second in all (0: no limit; request i is not sent before
// start + i/rate). The latency is from sending a request to having read its
// whole answer. It stops early when ctx ends; Requests says how many were sent.
func generateLoad(ctx context.Context, client *http.Client, n, concurrency int, rate float64,
	next func(i int) (*http.Request, error)) loadResult {
	concurrency = max(1, min(concurrency, n))
	parts := make([]loadResult, concurrency)
	var counter atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range concurrency {
		p := &parts[w]
		p.Status = map[int]int{}
		wg.Go(func() {
			for {
				i := int(counter.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if rate > 0 && !sleepUntilOrDone(ctx, start.Add(time.Duration(float64(i)/rate*float64(time.Second)))) {
					return
				}
				p.one(client, i, next)
			}
		})
	}
	wg.Wait()
	res := loadResult{Status: map[int]int{}, Elapsed: time.Since(start)}
	for _, p := range parts {
		res.Requests += p.Requests
		res.NoAnswer += p.NoAnswer
		if res.FirstErr == nil {
			res.FirstErr = p.FirstErr
		}
		for code, c := range p.Status {
			res.Status[code] += c
		}
		res.latencies = append(res.latencies, p.latencies...)
	}
	slices.Sort(res.latencies)
	return res
}

// add returns r and o together, as if one run: counts and elapsed times add up.
func (r loadResult) add(o loadResult) loadResult {
	sum := loadResult{Requests: r.Requests + o.Requests, Status: map[int]int{}, NoAnswer: r.NoAnswer + o.NoAnswer,
		FirstErr: cmp.Or(r.FirstErr, o.FirstErr), Elapsed: r.Elapsed + o.Elapsed}
	for _, m := range []map[int]int{r.Status, o.Status} {
		for code, c := range m {
			sum.Status[code] += c
		}
	}
	sum.latencies = append(append(make([]time.Duration, 0, len(r.latencies)+len(o.latencies)), r.latencies...), o.latencies...)
	slices.Sort(sum.latencies)
	return sum
}

func (r *loadResult) one(client *http.Client, i int, next func(int) (*http.Request, error)) {
	r.Requests++
	req, err := next(i)
	if err != nil {
		r.noAnswer(err)
		return
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		r.noAnswer(err)
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		r.noAnswer(fmt.Errorf("read answer: %w", err))
		return
	}
	r.latencies = append(r.latencies, time.Since(t0))
	r.Status[resp.StatusCode]++
}

func (r *loadResult) noAnswer(err error) {
	r.NoAnswer++
	if r.FirstErr == nil {
		r.FirstErr = err
	}
}

func sleepUntilOrDone(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// print writes the summary of a simulate run.
func (r loadResult) print(w io.Writer, what, target string, concurrency int, rate float64) {
	limit := "unlimited"
	if rate > 0 {
		limit = strconv.FormatFloat(rate, 'g', -1, 64) + "/s"
	}
	fmt.Fprintf(w, "%d %s deliveries to %s in %.3fs: %.1f req/s (concurrency %d, rate %s)\n",
		r.Requests, what, target, r.Elapsed.Seconds(), r.PerSecond(), concurrency, limit)
	codes := make([]int, 0, len(r.Status))
	for c := range r.Status {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "  %d %s: %d\n", c, http.StatusText(c), r.Status[c])
	}
	if r.NoAnswer > 0 {
		fmt.Fprintf(w, "  no answer: %d (first: %v)\n", r.NoAnswer, r.FirstErr)
	}
	if len(r.latencies) > 0 {
		fmt.Fprintf(w, "latency p50 %s  p90 %s  p99 %s  max %s\n", fmtMillis(r.Percentile(0.50)), fmtMillis(r.Percentile(0.90)),
			fmtMillis(r.Percentile(0.99)), fmtMillis(r.Percentile(1)))
	}
}

// fmtMillis formats d in milliseconds with two decimals.
func fmtMillis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
}
