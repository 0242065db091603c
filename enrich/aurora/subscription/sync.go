package subscription

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/leadbridge/leadbridge/schema"
)

// Tenant is one configured Aurora tenant, as sync needs it: the API token to
// call the Webhooks API with, and the credential Aurora must send with every
// webhook (header auth, or basic auth when BasicUsername is set).
type Tenant struct {
	ID            string
	APIToken      schema.Secret
	HeaderKey     string        // e.g. X-Aurora-Webhook-Token
	HeaderValue   schema.Secret // the tenant's first webhook token
	BasicUsername string
	BasicPassword schema.Secret // the tenant's first basic password
}

// Options configure Sync and List.
type Options struct {
	// PublicURL is where Aurora reaches ingest, e.g. https://bridge.example.com
	// (a path prefix is kept). Required by Sync; List uses it to name the
	// events that have no subscription yet.
	PublicURL string
	// Events to subscribe. Default: schema.AuroraLeadEvents(). "all" anywhere
	// in the list means every event of schema.AuroraEventNames().
	Events []string
	// DryRun plans and reports without writing.
	DryRun bool
	// Prune deletes managed subscriptions that are not wanted (other events,
	// duplicates). Without it they are only reported.
	Prune bool
}

// ManagedPrefix starts the description of every subscription Sync manages.
const ManagedPrefix = "leadbridge "

// Validate reports bad options, every problem at once: unknown events and,
// for Sync (forSync), a missing or unusable PublicURL.
func (o Options) Validate(forSync bool) error {
	_, err := o.events()
	if forSync {
		_, urlErr := checkPublicURL(o.PublicURL)
		err = errors.Join(err, urlErr)
	}
	return err
}

// events resolves Options.Events into a sorted, checked list.
func (o Options) events() ([]string, error) {
	if len(o.Events) == 0 {
		return schema.AuroraLeadEvents(), nil
	}
	var out []string
	var errs []error
	for _, e := range o.Events {
		e = strings.TrimSpace(e)
		switch {
		case e == "all":
			out = append(out, schema.AuroraEventNames()...)
		case e == "":
		case !isEvent(e):
			errs = append(errs, fmt.Errorf("unknown Aurora event %q", e))
		default:
			out = append(out, e)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// checkPublicURL accepts an absolute http(s) URL without user info, query or
// fragment: Aurora expands the template, so anything after the path belongs to
// leadbridge.
func checkPublicURL(s string) (string, error) {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return "", errors.New("--public-url is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "", errors.New("public url must be an absolute http(s) URL")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("public url must have no user info, query or fragment")
	}
	return strings.TrimRight(s, "/"), nil
}

// placeholder is the url_template placeholder of an event's attribute. The
// design request events write theirs "design_request_id=<DESIGN_REQUEST_ID_IN_AURORA>"
// in Aurora's suggested templates, except design_request_created.
func placeholder(event, attr string) string {
	if attr == "design_request_id" && event != "design_request_created" {
		return "<DESIGN_REQUEST_ID_IN_AURORA>"
	}
	return "<" + strings.ToUpper(attr) + ">"
}

// URLTemplate is the url_template for event at ingest's public URL: the event
// in the path and every attribute of the event in the query.
func URLTemplate(publicURL, tenant, event string) string {
	var q []string
	ev, _ := schema.AuroraEventNamed(event)
	for a := range ev.Attributes() {
		q = append(q, a+"="+placeholder(event, a))
	}
	u := strings.TrimRight(publicURL, "/") + "/webhooks/aurora/" + url.PathEscape(tenant) + "/" + event
	if len(q) > 0 {
		u += "?" + strings.Join(q, "&")
	}
	return u
}

// fingerprint identifies a credential without revealing it: 12 hex digits of
// SHA-256 over the tenant, the auth kind, the key or user name and the secret.
func fingerprint(t Tenant) string {
	h := sha256.New()
	for _, s := range []string{"leadbridge-webhook-auth", t.ID, t.HeaderKey, t.HeaderValue.Reveal(), t.BasicUsername, t.BasicPassword.Reveal()} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// desired is the subscription Sync wants for one event of a tenant.
func desired(t Tenant, publicURL, event string) Webhook {
	w := Webhook{
		Description: ManagedPrefix + event + " (auth " + fingerprint(t) + ")",
		Event:       event,
		URLTemplate: URLTemplate(publicURL, t.ID, event),
		Enabled:     true,
	}
	if t.BasicUsername != "" {
		w.BasicAuthUsername, w.BasicAuthPassword = t.BasicUsername, t.BasicPassword
	} else {
		w.HeaderAuthKey, w.HeaderAuthValue = t.HeaderKey, t.HeaderValue
	}
	return w
}

// checkTenant reports what a tenant lacks for sync.
func checkTenant(t Tenant) error {
	var errs []error
	if t.ID == "" {
		errs = append(errs, errors.New("tenant without id"))
	}
	if t.APIToken == "" {
		errs = append(errs, fmt.Errorf("tenant %s: no api token", t.ID))
	}
	if t.BasicUsername == "" && (t.HeaderKey == "" || t.HeaderValue == "") {
		errs = append(errs, fmt.Errorf("tenant %s: no webhook token (webhook_auth.tokens) or basic auth", t.ID))
	}
	if t.BasicUsername != "" && t.BasicPassword == "" {
		errs = append(errs, fmt.Errorf("tenant %s: basic auth without a password", t.ID))
	}
	return errors.Join(errs...)
}

// managed reports whether Sync owns w: its description says so, or it points
// at this tenant's webhook route of publicURL.
func managed(w Webhook, publicURL, tenant string) bool {
	return strings.HasPrefix(w.Description, ManagedPrefix) ||
		(publicURL != "" && strings.HasPrefix(w.URLTemplate, publicURL+"/webhooks/aurora/"+url.PathEscape(tenant)))
}

// readable reports whether a secret read back is the real value: Aurora (and
// the sandbox) mask write-only secrets.
func readable(s schema.Secret) bool {
	v := s.Reveal()
	return v != "" && strings.Trim(v, "*") != "" && v != "[redacted]"
}

// drift lists how have differs from want, by field name only.
func drift(have, want Webhook) []string {
	var d []string
	if have.URLTemplate != want.URLTemplate {
		d = append(d, "url_template")
	}
	if !have.Enabled {
		d = append(d, "disabled")
	}
	authDrift := have.Auth() != want.Auth() || have.HeaderAuthKey != want.HeaderAuthKey ||
		have.BasicAuthUsername != want.BasicAuthUsername || have.Description != want.Description ||
		(readable(have.HeaderAuthValue) && !have.HeaderAuthValue.Equal(want.HeaderAuthValue)) ||
		(readable(have.BasicAuthPassword) && !have.BasicAuthPassword.Equal(want.BasicAuthPassword))
	if authDrift {
		d = append(d, "auth")
	}
	return d
}

// Action is one thing Sync did (or, in a dry run, would do).
type Action struct {
	Tenant string
	Op     string // "create", "update", "delete", "extra" (kept, pruning is off), "ok"
	Event  string
	ID     string   // the subscription's id; empty for a create
	Drift  []string // for "update": url_template, disabled, auth
	Want   Webhook  // for "create" and "update": the subscription sent
}

// Report is Sync's result.
type Report struct {
	DryRun  bool
	Actions []Action
	// Writes counts POST, PUT and DELETE calls made (0 in a dry run).
	Writes int
	// Failed counts the tenants whose sync failed (their errors are Sync's).
	Failed int
}

// Count returns how many actions have op.
func (r Report) Count(op string) int {
	n := 0
	for _, a := range r.Actions {
		if a.Op == op {
			n++
		}
	}
	return n
}

// Sync makes every tenant's subscriptions match opts: one enabled,
// correctly authenticated subscription per wanted event. Tenants are worked
// one after the other; a failing tenant does not stop the others, and every
// failure is returned joined. The Report holds what was done so far.
func Sync(ctx context.Context, c *Client, tenants []Tenant, opts Options) (Report, error) {
	rep := Report{DryRun: opts.DryRun}
	public, err := checkPublicURL(opts.PublicURL)
	if err != nil {
		return rep, err
	}
	events, err := opts.events()
	if err != nil {
		return rep, err
	}
	if len(tenants) == 0 {
		return rep, errors.New("no Aurora tenant configured")
	}
	var errs []error
	for _, t := range tenants {
		if err := checkTenant(t); err != nil {
			errs = append(errs, err)
			rep.Failed++
			continue
		}
		if err := syncTenant(ctx, c, t, public, events, opts, &rep); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", t.ID, err))
			rep.Failed++
		}
	}
	return rep, errors.Join(errs...)
}

func syncTenant(ctx context.Context, c *Client, t Tenant, public string, events []string, opts Options, rep *Report) error {
	have, err := c.List(ctx, t.ID, t.APIToken)
	if err != nil {
		return err
	}
	var mine []Webhook
	for _, w := range have {
		if managed(w, public, t.ID) {
			mine = append(mine, w)
		}
	}
	var plan []Action
	used := map[string]bool{}
	for _, ev := range events {
		want := desired(t, public, ev)
		var cands []Webhook
		for _, w := range mine {
			if w.Event == ev {
				cands = append(cands, w)
			}
		}
		if len(cands) == 0 {
			plan = append(plan, Action{Tenant: t.ID, Op: "create", Event: ev, Want: want})
			continue
		}
		// Keep the candidate closest to what is wanted; the others are duplicates.
		best := slices.MinFunc(cands, func(a, b Webhook) int { return len(drift(a, want)) - len(drift(b, want)) })
		used[best.ID] = true
		if d := drift(best, want); len(d) > 0 {
			plan = append(plan, Action{Tenant: t.ID, Op: "update", Event: ev, ID: best.ID, Drift: d, Want: want})
		} else {
			plan = append(plan, Action{Tenant: t.ID, Op: "ok", Event: ev, ID: best.ID})
		}
	}
	for _, w := range mine {
		if used[w.ID] {
			continue
		}
		op := "extra"
		if opts.Prune {
			op = "delete"
		}
		plan = append(plan, Action{Tenant: t.ID, Op: op, Event: w.Event, ID: w.ID})
	}
	for _, a := range plan {
		if !opts.DryRun {
			switch a.Op {
			case "create":
				created, err := c.Create(ctx, t.ID, t.APIToken, a.Want)
				if err != nil {
					return err
				}
				a.ID = created.ID
				rep.Writes++
			case "update":
				if err := c.Update(ctx, t.ID, t.APIToken, a.ID, a.Want); err != nil {
					return err
				}
				rep.Writes++
			case "delete":
				if err := c.Delete(ctx, t.ID, t.APIToken, a.ID); err != nil {
					return err
				}
				rep.Writes++
			}
		}
		rep.Actions = append(rep.Actions, a)
	}
	return nil
}

func isEvent(name string) bool { _, ok := schema.AuroraEventNamed(name); return ok }
