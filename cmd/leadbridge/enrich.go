package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/enrich/aurora"
	"github.com/leadbridge/leadbridge/schema"
)

func runEnrich(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("enrich", "Run one member of the enrichment consumer group: raw events -> lead records.\n"+
		"Run several (one per host or container) and the raw topic's partitions spread over them.", stdout)
	path := configFlag(fs, getenv)
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	cfg, err := loadValid(*path, getenv, need{apiTokens: true})
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg.Log.Level)
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck
	ln, err := listen(cfg.Enrich.HTTPAddr)
	if err != nil {
		return err
	}
	return serveEnrich(ctx, cfg, ln, aurora.NewClient(cfg.Aurora.APIURL, nil, logger.Named("aurora")), logger)
}

// serveEnrich runs one enrichment member until ctx ends, with /healthz,
// /readyz and /metrics on ln. fetch is the Aurora client (a sandbox in dev mode).
func serveEnrich(ctx context.Context, cfg Config, ln net.Listener, fetch enrich.LeadFetcher, logger *zap.Logger, extra ...kgo.Opt) error {
	reg := newRegistry()
	e := enrich.New(enrichConfig(cfg, reg), fetch, logger)
	opts, err := kafkaOpts(cfg.Kafka, logger, reg, "enrich")
	if err != nil {
		return err
	}
	opts = append(opts, kgo.ConsumerGroup(cfg.Enrich.GroupID), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
	opts = append(append(opts, e.ClientOpts()...), extra...)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer client.Close() // leaves the group

	probe := &topicProbe{adm: kadm.NewClient(client), topic: cfg.Topics.Raw}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := probe.Ready(r.Context()); err != nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("enrich http", zap.Error(err))
		}
	}()
	logger.Info("enrich running", zap.String("group", cfg.Enrich.GroupID), zap.String("topic", cfg.Topics.Raw),
		zap.String("addr", ln.Addr().String()))
	err = e.Run(ctx, client)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	logger.Info("enrich stopped")
	return err
}

// enrichConfig turns the user's configuration into the plain struct enrich takes.
func enrichConfig(cfg Config, reg prometheus.Registerer) enrich.Config {
	tokens := make(map[string]schema.Secret, len(cfg.Aurora.Tenants))
	for _, t := range cfg.Aurora.Tenants {
		tokens[t.ID] = t.APIToken
	}
	return enrich.Config{
		RawTopic: cfg.Topics.Raw, LeadsTopic: cfg.Topics.Leads, DLQTopic: cfg.Topics.DLQ,
		APITokens:         tokens,
		RequestsPerMinute: cfg.Aurora.RequestsPerMinute,
		MaxInFlight:       cfg.Enrich.MaxInFlight,
		RequestTimeout:    cfg.Enrich.RequestTimeout,
		RetryFor:          cfg.Enrich.RetryFor,
		NotFoundRetryFor:  cfg.Enrich.NotFoundRetryFor,
		ShutdownGrace:     cfg.Enrich.ShutdownGrace,
		Metrics:           reg,
	}
}
