package wire

import (
	"context"
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/schema"
)

// Enrich runs one enrichment member until ctx ends, with the admin server
// (/healthz, /readyz, /metrics) on ln. fetch is the Aurora client (a
// sandbox in dev mode and the benchmarks); extra options go to its client.
func Enrich(ctx context.Context, cfg config.Config, ln net.Listener, fetch enrich.LeadFetcher, logger *zap.Logger, extra ...kgo.Opt) error {
	if logger == nil {
		logger = zap.NewNop()
	}
	reg := NewRegistry()
	e, err := enrich.New(EnrichConfig(cfg, reg), fetch, logger)
	if err != nil {
		return err
	}
	opts, err := KafkaOpts(cfg.Kafka, logger, reg, "enrich")
	if err != nil {
		return err
	}
	opts = append(opts, kgo.ConsumerGroup(cfg.Enrich.GroupID), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
	// Exactly-once, this checks that the brokers accept transactions.
	client, err := e.NewClient(ctx, append(opts, extra...)...)
	if err != nil {
		return err
	}
	defer func() { e.Client().Close() }() // leaves the group; a restart may have replaced client

	probe := NewTopicProbeOf(e.Client, cfg.Topics.Raw)
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := ServeHandler(adminCtx, ln, NewAdmin(probe.Ready, reg, logger).Handler()); err != nil {
			logger.Error("enrich http", zap.Error(err))
		}
	})
	logger.Info("enrich running", zap.String("group", cfg.Enrich.GroupID), zap.String("topic", cfg.Topics.Raw),
		zap.String("addr", ln.Addr().String()))
	err = e.Run(ctx, client)
	stopAdmin()
	wg.Wait()
	logger.Info("enrich stopped")
	return err
}

// EnrichConfig turns the user's configuration into the plain struct enrich
// takes; zero tuning values take enrich's defaults.
func EnrichConfig(cfg config.Config, reg prometheus.Registerer) enrich.Config {
	tokens := make(map[string]schema.Secret, len(cfg.Aurora.Tenants))
	for _, t := range cfg.Aurora.Tenants {
		tokens[t.ID] = t.APIToken
	}
	return enrich.Config{
		RawTopic: cfg.Topics.Raw, LeadsTopic: cfg.Topics.Leads, DLQTopic: cfg.Topics.DLQ,
		StateTopic: cfg.Topics.State, RetryTopic: cfg.Topics.Retry,
		AtLeastOnce:        cfg.Enrich.ExactlyOnce != nil && !*cfg.Enrich.ExactlyOnce,
		TransactionalID:    cfg.Enrich.TransactionalID,
		SessionTimeout:     cfg.Enrich.SessionTimeout,
		HeartbeatInterval:  cfg.Enrich.HeartbeatInterval,
		APITokens:          tokens,
		RequestsPerMinute:  cfg.Aurora.RequestsPerMinute,
		MaxInFlight:        cfg.Enrich.MaxInFlight,
		RequestTimeout:     cfg.Enrich.RequestTimeout,
		RetryFor:           cfg.Enrich.RetryFor,
		NotFoundRetryFor:   cfg.Enrich.NotFoundRetryFor,
		ShutdownGrace:      cfg.Enrich.ShutdownGrace,
		MaxOutstanding:     cfg.Enrich.MaxOutstanding,
		MaxBatch:           cfg.Enrich.MaxBatch,
		LagInterval:        cfg.Enrich.LagInterval,
		BatchFor:           cfg.Enrich.BatchFor,
		TransactionTimeout: cfg.Enrich.TransactionTimeout,
		Metrics:            reg,
	}
}
