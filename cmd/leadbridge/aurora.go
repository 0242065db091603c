package main

import (
	"context"
	"io"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/leadbridge/leadbridge/enrich/aurora/subscription"
)

func runAurora(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return dispatch(ctx, "leadbridge aurora", map[string]command{
		"subscriptions": {"subscriptions sync|list: Aurora webhook subscriptions of every configured tenant", runAuroraSubscriptions},
	}, args, getenv, stdout)
}

func runAuroraSubscriptions(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return dispatch(ctx, "leadbridge aurora subscriptions", map[string]command{
		"sync": {"create or fix one subscription per event and tenant, pointing at ingest", runSubscriptionsSync},
		"list": {"list every tenant's subscriptions; report disabled and missing ones", runSubscriptionsList},
	}, args, getenv, stdout)
}

const syncSummary = `For every configured tenant, make sure Aurora has one enabled subscription per
event pointing at ingest: url_template <public-url>/webhooks/aurora/<tenant>/<event>
with every attribute of the event, header auth with the tenant's first webhook
token (basic auth when the tenant has basic). Creates what is missing, updates
what drifted (URL, auth after a token rotation, disabled by Aurora), deletes
leadbridge's unwanted subscriptions only with --prune. A second run makes no
write and says so. Secrets are printed as <redacted>.`

func runSubscriptionsSync(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("aurora subscriptions sync", syncSummary, stdout)
	path := configFlag(fs, getenv)
	public := fs.String("public-url", getenv("LEADBRIDGE_PUBLIC_URL"), "where Aurora reaches ingest, e.g. https://bridge.example.com (default $LEADBRIDGE_PUBLIC_URL)")
	events := fs.String("events", "", "comma-separated events to subscribe, or all (default: the lead events)")
	dry := fs.Bool("dry-run", false, "print what would change, write nothing")
	prune := fs.Bool("prune", false, "delete leadbridge's subscriptions to events not wanted, and duplicates")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	opts := subscription.Options{PublicURL: *public, Events: config.SplitList(*events), DryRun: *dry, Prune: *prune}
	if err := opts.Validate(true); err != nil {
		return usagef("%v (run 'leadbridge aurora subscriptions sync --help')", err)
	}
	cfg, logger, err := setup(*path, getenv, need{webhooks: true, apiTokens: true})
	if err != nil {
		return err
	}
	client, err := subscription.NewClient(cfg.Aurora.APIURL, cfg.Aurora.RequestsPerMinute, nil, logger)
	if err != nil {
		return usageError{err}
	}
	rep, err := subscription.Sync(ctx, client, wire.SubscriptionTenants(cfg), opts)
	rep.WriteText(stdout)
	return err
}

func runSubscriptionsList(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("aurora subscriptions list", "List every configured tenant's Aurora webhook subscriptions: id, event,\n"+
		"enabled or DISABLED (Aurora disables one after 48 h of failures; sync re-enables it),\n"+
		"auth kind, owner, url_template; then the wanted events that have no subscription.", stdout)
	path := configFlag(fs, getenv)
	public := fs.String("public-url", getenv("LEADBRIDGE_PUBLIC_URL"), "ingest's public URL, to recognise leadbridge's subscriptions (default $LEADBRIDGE_PUBLIC_URL)")
	events := fs.String("events", "", "comma-separated events that should exist, or all (default: the lead events)")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	opts := subscription.Options{PublicURL: *public, Events: config.SplitList(*events)}
	if err := opts.Validate(false); err != nil {
		return usagef("%v (run 'leadbridge aurora subscriptions list --help')", err)
	}
	cfg, logger, err := setup(*path, getenv, need{apiTokens: true})
	if err != nil {
		return err
	}
	client, err := subscription.NewClient(cfg.Aurora.APIURL, cfg.Aurora.RequestsPerMinute, nil, logger)
	if err != nil {
		return usageError{err}
	}
	lists, err := subscription.List(ctx, client, wire.SubscriptionTenants(cfg), opts)
	subscription.WriteList(stdout, lists)
	return err
}
