package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/ingest"
)

func runIngest(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("ingest", "Serve the Aurora and LeadPro webhook endpoints, /healthz, /readyz and /metrics.", stdout)
	path := configFlag(fs, getenv)
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	cfg, err := loadValid(*path, getenv, need{webhooks: true})
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg.Log.Level)
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck // nothing useful to do with a failed sync of stderr
	ln, err := listen(cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	return serveIngest(ctx, cfg, ln, logger)
}

// serveIngest runs ingest on ln until ctx ends: drain the HTTP server, flush
// what the producer still holds, close the client (STYLE: Shutdown, Flush, Close).
func serveIngest(ctx context.Context, cfg Config, ln net.Listener, logger *zap.Logger) error {
	reg := newRegistry()
	opts, err := kafkaOpts(cfg.Kafka, logger, reg, "ingest")
	if err != nil {
		return err
	}
	client, err := kgo.NewClient(append(opts,
		kgo.DefaultProduceTopic(cfg.Topics.Raw),
		kgo.MaxBufferedBytes(int(cfg.Kafka.MaxBufferedBytes)),
		// A provider is waiting on every record: send at once. Records that
		// arrive while a produce request is in flight batch up anyway.
		kgo.ProducerLinger(0),
		// acks=all and idempotence are kgo's defaults; say so where it matters.
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer client.Close()
	pub := ingest.NewKafkaPublisher(client, cfg.Topics.Raw)
	probe := &topicProbe{adm: kadm.NewClient(client), topic: cfg.Topics.Raw}
	srv := ingest.NewServer(ingestConfig(cfg, probe.Ready, pub.BufferedBytes, reg), pub, logger)

	logger.Info("ingest listening", zap.String("addr", ln.Addr().String()), zap.String("topic", cfg.Topics.Raw),
		zap.Int("aurora_tenants", len(cfg.Aurora.Tenants)), zap.Int("leadpro_accounts", len(cfg.LeadPro.Accounts)))
	if err := srv.Serve(ctx, ln); err != nil {
		logger.Error("http server", zap.Error(err))
	}
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Flush(fctx); err != nil {
		return fmt.Errorf("flush producer: %w", err)
	}
	logger.Info("ingest stopped")
	return nil
}

// ingestConfig turns the user's configuration into the plain struct ingest takes.
func ingestConfig(cfg Config, ready func(context.Context) error, buffered func() int64, reg *prometheus.Registry) ingest.Config {
	ic := ingest.Config{
		MaxBodyBytes:  cfg.HTTP.MaxBodyBytes,
		AckTimeout:    cfg.HTTP.AckTimeout,
		DrainDelay:    cfg.HTTP.DrainDelay,
		Ready:         ready,
		BufferedBytes: buffered,
		Metrics:       reg,
	}
	for _, t := range cfg.Aurora.Tenants {
		at := ingest.AuroraTenant{ID: t.ID, Header: t.WebhookAuth.Header, Tokens: t.WebhookAuth.Tokens}
		if b := t.WebhookAuth.Basic; b != nil {
			at.Header, at.Tokens = "", nil
			at.Username, at.Passwords = b.Username, b.Passwords
		}
		ic.Aurora = append(ic.Aurora, at)
	}
	for _, a := range cfg.LeadPro.Accounts {
		ic.LeadPro = append(ic.LeadPro, ingest.LeadProAccount{ID: a.ID, SigningSecrets: a.SigningSecrets})
	}
	return ic
}
