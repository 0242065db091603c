package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/ingest"
)

// IngestLinger is how long ingest's producer lets a partition's records
// gather before it sends them. Under load, with 64 webhooks in flight,
// `leadbridge bench ingest` measured the broker's CPU per delivery at 13 us
// with 1 ms against 24 us with none (10 against 14 at 256 in flight), for
// the same ingest CPU, throughput and p50, and a lower p99; 2 ms gained
// nothing more. Idempotence fixes kgo's produce requests in flight at 5 per
// broker, so lingering is the one way to bigger batches. Compression was
// measured too: snappy (kgo's default), lz4 and none differed by less than
// the noise for these small records, and lz4 cost 13 MiB more peak RSS, so
// kgo's default stays.
const IngestLinger = time.Millisecond

// IngestListeners are where ingest answers: Public for the webhooks (and,
// without Admin, /metrics), Admin (optional, http.admin_addr) for /metrics.
// /healthz and /readyz answer on both.
type IngestListeners struct {
	Public, Admin net.Listener
}

// Ingest runs ingest until ctx ends, then drains (new webhooks get 503 and
// /readyz fails for http.drain_delay), stops listening, lets in-flight
// requests finish, flushes what the producer holds and closes the client
// (in that order: Shutdown, Flush, Close, so nothing acknowledged is lost).
func Ingest(ctx context.Context, cfg config.Config, lns IngestListeners, logger *zap.Logger) error {
	if logger == nil {
		logger = zap.NewNop()
	}
	reg := NewRegistry()
	client, err := KafkaClient(cfg.Kafka, logger, reg, "ingest",
		kgo.DefaultProduceTopic(cfg.Topics.Raw),
		kgo.MaxBufferedBytes(int(cfg.Kafka.MaxBufferedBytes)),
		// IngestLinger: a provider waits on every record, but a millisecond
		// of it halves the broker's work per record under load.
		kgo.ProducerLinger(IngestLinger),
		// acks=all and idempotence are kgo's defaults; say so where it matters.
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)
	if err != nil {
		return err
	}
	defer client.Close()
	pub := ingest.NewKafkaPublisher(client, cfg.Topics.Raw)
	probe := NewTopicProbe(client, cfg.Topics.Raw)
	ic := IngestConfig(cfg, pub.BufferedBytes, reg)
	if err := ic.Validate(); err != nil {
		return err
	}
	srv := ingest.NewServer(ic, pub, logger)

	var draining atomic.Bool
	admin := NewAdmin(func(ctx context.Context) error {
		if draining.Load() {
			return errDraining
		}
		return probe.Ready(ctx)
	}, reg, logger)
	webhooks := srv.Handler()
	if tracingOn.Load() {
		webhooks = TraceHTTP(webhooks)
	}
	public := http.NewServeMux()
	public.Handle("/", webhooks)
	public.Handle("GET /healthz", admin.Health())
	public.Handle("GET /readyz", admin.Health())
	if lns.Admin == nil {
		public.Handle("GET /metrics", admin.Handler())
	} else {
		public.Handle("/metrics", http.NotFoundHandler()) // moved to http.admin_addr
	}
	if lim := openFileLimit(); lim > 0 && uint64(cfg.HTTP.MaxConnections) > lim {
		logger.Warn("http.max_connections is above the open-file limit: the process can run out of descriptors before it refuses connections",
			zap.Int("max_connections", cfg.HTTP.MaxConnections), zap.Uint64("rlimit_nofile", lim))
	}
	limited := newLimitListener(lns.Public, cfg.HTTP.MaxConnections)
	grace := cfg.HTTP.AckTimeout + 5*time.Second

	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() {
		errs[0] = Serve(serveCtx, limited, &http.Server{
			Handler:      webhooksFirst(webhooks, public),
			ReadTimeout:  15 * time.Second,
			WriteTimeout: cfg.HTTP.AckTimeout + 5*time.Second,
			IdleTimeout:  90 * time.Second,
			ErrorLog:     zap.NewStdLog(logger.Named("http")),
		}, grace)
		stopServing()
	})
	wg.Go(func() { errs[1] = Serve(serveCtx, limited.overflow, overflowServer(admin.Health()), 0); stopServing() })
	if lns.Admin != nil {
		wg.Go(func() { errs[2] = Serve(serveCtx, lns.Admin, &http.Server{Handler: admin.Handler()}, 0); stopServing() })
	}
	logger.Info("ingest listening", zap.String("addr", lns.Public.Addr().String()), zap.String("topic", cfg.Topics.Raw),
		zap.Int("aurora_tenants", len(cfg.Aurora.Tenants)), zap.Int("leadpro_accounts", len(cfg.LeadPro.Accounts)))
	select {
	case <-ctx.Done():
		srv.Drain()
		draining.Store(true)
		logger.Info("draining", zap.Duration("duration", cfg.HTTP.DrainDelay))
		select {
		case <-time.After(cfg.HTTP.DrainDelay):
		case <-serveCtx.Done():
		}
		stopServing()
	case <-serveCtx.Done(): // a server failed
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		logger.Error("http server", zap.Error(err))
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := client.Flush(fctx); err != nil {
		return fmt.Errorf("flush producer: %w", err)
	}
	logger.Info("ingest stopped")
	return nil
}

// webhooksFirst sends the webhook paths straight to webhooks, the rest
// through mux: the mux's path cleaning and pattern match were 2.5% of
// ingest's CPU profile under load, on every delivery, for routes
// (/healthz, /readyz, /metrics) that a webhook never takes. A path with dot
// segments that the mux would have redirected reaches Echo as it is, where
// it matches no route or names no tenant.
func webhooksFirst(webhooks, mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/webhooks/") {
			webhooks.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// IngestConfig turns the user's configuration into the plain struct ingest takes.
func IngestConfig(cfg config.Config, buffered func() int64, reg *prometheus.Registry) ingest.Config {
	ic := ingest.Config{
		MaxBodyBytes:  cfg.HTTP.MaxBodyBytes,
		AckTimeout:    cfg.HTTP.AckTimeout,
		AccessLog:     ingest.AccessLogPolicy(cfg.Log.Access),
		SlowRequest:   cfg.Log.Slow,
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
	ic.LeadProMaxTokenAge = cfg.LeadPro.MaxTokenAge
	return ic
}
