package main

import (
	"context"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/ingest/simulate"
	"github.com/leadbridge/leadbridge/schema"
)

const simSummary = `Send Aurora or LeadPro webhooks to a leadbridge ingest, authenticated as the provider would.

One delivery by default: prints the request line, the answer's status and body.
With -n N it sends N deliveries (--concurrency at a time, at most --rate per
second) and prints a summary: answers per status code, throughput and latency
percentiles. It exits 1 when any delivery is not answered 200.

Aurora: GET /webhooks/aurora/{tenant}/{event}?<attributes> (--path-style static:
?aurora_event={event}), with every attribute Aurora documents for the event.
Every id attribute that --attr does not set gets a new UUID per delivery, so N
deliveries are about N different leads (--same-lead: one set of ids for all);
the others get a documented value (lead_created: source=lcai), which --attr
overrides. LeadPro: POST /webhooks/leadpro/{account}
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
	token := fs.String("token", "", "Aurora header token (default $"+simulate.EnvToken+", else from the configuration)")
	header := fs.String("header", "", "Aurora token header `name` (default: the configured one, else X-Aurora-Webhook-Token)")
	basicUser := fs.String("basic-user", "", "Aurora basic auth user `name` (instead of a header token)")
	basicPass := fs.String("basic-pass", "", "Aurora basic auth `password` (default $"+simulate.EnvPassword+", else from the configuration)")
	secret := fs.String("secret", "", "LeadPro signing `secret` (default $"+simulate.EnvSecret+", else from the configuration)")
	n := fs.Int("n", 1, "number of deliveries")
	rate := rateFlag(0)
	fs.Var(&rate, "rate", "at most this many deliveries per second, `R` or R/s (0: as fast as possible)")
	concurrency := fs.Int("concurrency", 8, "deliveries in flight at once")
	timeout := fs.Duration("timeout", 15*time.Second, "per-delivery timeout")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}

	load := simulate.Load{URL: *baseURL, N: *n, Concurrency: *concurrency, Rate: float64(rate), Timeout: *timeout}
	problems := []error{load.Check()}
	if *pathStyle != "path" && *pathStyle != "static" {
		problems = append(problems, errors.New("--path-style must be path or static"))
	}
	sim := &simulate.Simulator{Provider: *provider, Event: *event, Attrs: attrs, SameLead: *sameLead,
		Static: *pathStyle == "static"}
	if err := errors.Join(append(problems, sim.Check())...); err != nil {
		return usageError{err}
	}
	creds := simulate.Creds{Token: schema.Secret(*token), Header: *header, BasicUser: *basicUser,
		BasicPass: schema.Secret(*basicPass), Secret: schema.Secret(*secret)}.OrEnv(getenv)
	var cfg *config.Config
	if sim.WantsConfig(creds, *tenant, *account, *path != "", getenv) {
		c, err := loadValid(*path, getenv, need{webhooks: true})
		if err != nil {
			return err
		}
		cfg = &c
	}
	if err := sim.Authenticate(creds, *tenant, *account, cfg); err != nil {
		return usageError{err}
	}
	sim.Prepare()
	return sim.Run(ctx, load, stdout)
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
