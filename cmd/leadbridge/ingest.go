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
	cfg, logger, err := setup(*path, getenv, need{webhooks: true})
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
	addrs := []string{cfg.HTTP.Addr}
	if cfg.HTTP.AdminAddr != "" {
		addrs = append(addrs, cfg.HTTP.AdminAddr)
	}
	lns, err := wire.ListenAll(addrs...)
	if err != nil {
		return err
	}
	l := wire.IngestListeners{Public: lns[0]}
	if len(lns) > 1 {
		l.Admin = lns[1]
	}
	return wire.Ingest(ctx, cfg, l, logger)
}
