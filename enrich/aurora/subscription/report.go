package subscription

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// redacted stands for every secret in what sync and list print.
const redacted = "<redacted>"

// WriteText prints the report: one line per action, the fields sent for
// creates and updates (secrets as <redacted>), and a summary line that says
// when nothing changed, or how many tenants failed (never "no changes" then:
// a tenant that failed may need some).
func (r Report) WriteText(w io.Writer) {
	for _, a := range r.Actions {
		switch a.Op {
		case "ok":
			fmt.Fprintf(w, "tenant %s: ok %s (%s)\n", a.Tenant, a.Event, a.ID)
			continue
		case "create":
			fmt.Fprintf(w, "tenant %s: create %s\n", a.Tenant, a.Event)
		case "update":
			fmt.Fprintf(w, "tenant %s: update %s (%s): %s\n", a.Tenant, a.Event, a.ID, strings.Join(a.Drift, ", "))
		case "delete":
			fmt.Fprintf(w, "tenant %s: delete %s (%s)\n", a.Tenant, a.Event, a.ID)
			continue
		case "extra":
			fmt.Fprintf(w, "tenant %s: extra %s (%s): not wanted, kept (--prune deletes it)\n", a.Tenant, a.Event, a.ID)
			continue
		}
		writeFields(w, a.Want)
	}
	changes := r.Count("create") + r.Count("update") + r.Count("delete")
	verb := ""
	if r.DryRun {
		verb = "would be "
	}
	failed := ""
	if r.Failed > 0 {
		failed = fmt.Sprintf("; %d tenant(s) failed", r.Failed)
	}
	switch {
	case changes == 0 && r.Failed == 0:
		fmt.Fprintf(w, "no changes: %d subscription(s) up to date, %d extra; %d writes\n", r.Count("ok"), r.Count("extra"), r.Writes)
	default:
		fmt.Fprintf(w, "%d %screated, %d %supdated, %d %sdeleted, %d up to date, %d extra; %d writes%s\n",
			r.Count("create"), verb, r.Count("update"), verb, r.Count("delete"), verb, r.Count("ok"), r.Count("extra"), r.Writes, failed)
	}
}

func writeFields(w io.Writer, h Webhook) {
	fmt.Fprintf(w, "  description: %s\n  event: %s\n  url_template: %s\n  enabled: %t\n", h.Description, h.Event, h.URLTemplate, h.Enabled)
	if h.Auth() == "basic" {
		fmt.Fprintf(w, "  basic_auth_username: %s\n  basic_auth_password: %s\n", h.BasicAuthUsername, redacted)
	} else {
		fmt.Fprintf(w, "  header_auth_key: %s\n  header_auth_value: %s\n", h.HeaderAuthKey, redacted)
	}
}

// TenantList is one tenant's subscriptions as List found them.
type TenantList struct {
	Tenant   string
	Webhooks []Webhook
	// Missing are wanted events (Options.Events) with no managed subscription.
	Missing []string
}

// Disabled returns the subscriptions that are not enabled: Aurora disables
// one after "all retries ... fail within a 48 hour period"; sync re-enables it.
func (l TenantList) Disabled() []Webhook {
	var out []Webhook
	for _, w := range l.Webhooks {
		if !w.Enabled {
			out = append(out, w)
		}
	}
	return out
}

// List reads every tenant's subscriptions. A failing tenant does not stop the
// others; failures are returned joined.
func List(ctx context.Context, c *Client, tenants []Tenant, opts Options) ([]TenantList, error) {
	events, err := opts.events()
	if err != nil {
		return nil, err
	}
	public := strings.TrimRight(opts.PublicURL, "/")
	var out []TenantList
	var errs []error
	for _, t := range tenants {
		hooks, err := c.List(ctx, t.ID, t.APIToken)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", t.ID, err))
			continue
		}
		tl := TenantList{Tenant: t.ID, Webhooks: hooks}
		for _, ev := range events {
			found := false
			for _, w := range hooks {
				found = found || (w.Event == ev && managed(w, public, t.ID))
			}
			if !found {
				tl.Missing = append(tl.Missing, ev)
			}
		}
		out = append(out, tl)
	}
	return out, errors.Join(errs...)
}

// WriteList prints List's result: one line per subscription (id, event,
// enabled or DISABLED, auth kind, managed or not, url_template), then the
// wanted events without a subscription and the count of disabled ones.
func WriteList(w io.Writer, lists []TenantList) {
	disabled := 0
	for _, l := range lists {
		fmt.Fprintf(w, "tenant %s: %d subscription(s)\n", l.Tenant, len(l.Webhooks))
		for _, h := range l.Webhooks {
			state := "enabled"
			if !h.Enabled {
				state = "DISABLED"
				disabled++
			}
			owner := "other"
			if strings.HasPrefix(h.Description, ManagedPrefix) {
				owner = "leadbridge"
			}
			fmt.Fprintf(w, "  %s %s %s auth=%s %s %s\n", h.ID, h.Event, state, h.Auth(), owner, h.URLTemplate)
		}
		for _, ev := range l.Missing {
			fmt.Fprintf(w, "  missing: %s (sync creates it)\n", ev)
		}
	}
	if disabled > 0 {
		fmt.Fprintf(w, "%d subscription(s) disabled (Aurora disables one after 48 h of failed deliveries); leadbridge aurora subscriptions sync re-enables them\n", disabled)
	}
}
