package main

import (
	"context"
	"io"

	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/leadbridge/leadbridge/enrich/aurora"
)

func runEnrich(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("enrich", "Run one member of the enrichment consumer group: raw events -> lead records.\n"+
		"Run several (one per host or container) and the raw topic's partitions spread over them.", stdout)
	path := configFlag(fs, getenv)
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	cfg, logger, err := setup(*path, getenv, need{apiTokens: true, kafka: true})
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck // nothing useful to do with a failed sync of stderr
	stopTracing, err := wire.Tracing(ctx, getenv, "leadbridge-enrich")
	if err != nil {
		return usageError{err}
	}
	defer stopTracing(context.WithoutCancel(ctx)) //nolint:errcheck // best effort at exit
	ln, err := wire.Listen(cfg.Enrich.HTTPAddr)
	if err != nil {
		return err
	}
	return wire.Enrich(ctx, cfg, ln, aurora.NewClient(cfg.Aurora.APIURL, wire.APIClient(cfg), logger.Named("aurora")), logger)
}
