package main

import (
	"context"
	"io"

	"github.com/leadbridge/leadbridge/cmd/wire"
)

func runIngest(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("ingest", "Serve the Aurora and LeadPro webhook endpoints, /healthz, /readyz and /metrics\n"+
		"(/metrics on http.admin_addr instead when that is set).", stdout)
	path := configFlag(fs, getenv)
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	cfg, logger, err := setup(*path, getenv, need{webhooks: true, kafka: true})
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck // nothing useful to do with a failed sync of stderr
	wire.TuneIngestGC(getenv, cfg.Kafka.MaxBufferedBytes)
	stopTracing, err := wire.Tracing(ctx, getenv, "leadbridge-ingest")
	if err != nil {
		return usageError{err}
	}
	defer stopTracing(context.WithoutCancel(ctx)) //nolint:errcheck // best effort at exit
	l, err := wire.ListenIngest(cfg)
	if err != nil {
		return err
	}
	return wire.Ingest(ctx, cfg, l, logger)
}
