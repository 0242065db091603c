package main

import (
	"context"
	"io"

	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/leadbridge/leadbridge/enrich/operate"
	"github.com/leadbridge/leadbridge/schema"
)

const replaySummary = `Re-enrich a time range of the raw topic through the normal path: for every lead
key with a raw record written in [--since, --until), its newest raw record is
produced to raw again (same key, value and CloudEvents headers, plus
leadbridge_replay), in transactions, and enrich processes it as if it had just
arrived. A key with a newer record after --until is skipped (that state is
already enriched). With no-op suppression, unchanged leads produce nothing.
Times are RFC 3339 or a duration ago (2h). A --tenant or --account that is
not in the configuration is refused (exit 2).`

func runReplay(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("replay", replaySummary, stdout)
	path := configFlag(fs, getenv)
	var since, until timeFlag
	fs.Var(&since, "since", "replay raw records written at or after `T` (required)")
	fs.Var(&until, "until", "and before `T` (default: now)")
	tenant := fs.String("tenant", "", "only this Aurora tenant's leads")
	account := fs.String("account", "", "only this LeadPro account's leads")
	dry := fs.Bool("dry-run", false, "count what would be replayed; write nothing")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	switch {
	case since.t.IsZero():
		return usagef("--since is required (run 'leadbridge replay --help')")
	case !until.t.IsZero() && !until.t.After(since.t):
		return usagef("--until must be after --since (run 'leadbridge replay --help')")
	case *tenant != "" && *account != "":
		return usagef("give --tenant or --account, not both (run 'leadbridge replay --help')")
	}
	cfg, opts, _, err := setupKafka(*path, getenv, "replay")
	if err != nil {
		return err
	}
	// An id the configuration does not hold would replay nothing, quietly;
	// forget refuses such a key with the same cfg.Knows.
	source := ""
	switch {
	case *tenant != "" && !cfg.Knows(schema.ProviderAurora, *tenant):
		return usagef("--tenant %q is not an Aurora tenant of the configuration", *tenant)
	case *account != "" && !cfg.Knows(schema.ProviderLeadPro, *account):
		return usagef("--account %q is not a LeadPro account of the configuration", *account)
	case *tenant != "":
		source = schema.AuroraSource(*tenant)
	case *account != "":
		source = schema.LeadProSource(*account)
	}
	rep, err := operate.Replay(ctx, operate.ReplayOptions{Kafka: opts, Topics: wire.OperateTopics(cfg),
		Since: since.t, Until: until.t, Source: source, DryRun: *dry})
	if err == nil || rep.Scanned > 0 { // a failure before the first record read is no "0 key(s) replayed"
		rep.WriteText(stdout)
	}
	return err
}
