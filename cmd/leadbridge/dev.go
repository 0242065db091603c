package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/enrich/aurora"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

// The dev mode's well-known tenant, account and credentials. They only ever
// guard a loopback playground, so they are printed to be pasted.
const (
	devTenant     = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	devAccount    = "9999"
	devHookHeader = "X-Aurora-Webhook-Token"
	devHookToken  = "dev-webhook-token"
	devAPIToken   = "dev-api-token"
	devSecret     = "dev-leadpro-signing-secret"
)

func runDev(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("dev", "Everything in one process for development: an in-process Kafka-compatible broker\n"+
		"(franz-go's kfake, data kept in --data), the three topics, ingest, an enricher and the\n"+
		"Aurora sandbox with webhook subscriptions pointing at ingest. Same code paths as production.", stdout)
	data := fs.String("data", ".leadbridge/dev", "`dir` for the broker's data (kept across restarts)")
	kafkaPort := fs.Int("kafka-port", 9092, "`port` of the in-process broker on 127.0.0.1")
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", "ingest `address`")
	enrichAddr := fs.String("enrich-addr", "127.0.0.1:8081", "enrich health/metrics `address`")
	sandboxAddr := fs.String("sandbox-addr", "127.0.0.1:8090", "Aurora sandbox `address`")
	verbose := fs.Bool("verbose", false, "log every request (info level); default warn")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	cfg := devConfig(*httpAddr, *enrichAddr, "http://"+*sandboxAddr)
	if *verbose {
		cfg.Log.Level = "info"
	}
	if err := cfg.Validate(need{webhooks: true, apiTokens: true}); err != nil {
		return usageError{fmt.Errorf("invalid dev configuration: %w", err)}
	}
	logger, err := newLogger(cfg.Log.Level)
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck

	if err := os.MkdirAll(*data, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(*kafkaPort), kfake.DataDir(filepath.Clean(*data)),
		kfake.ClusterID("leadbridge-dev"))
	if err != nil {
		return fmt.Errorf("start the in-process broker on port %d: %w", *kafkaPort, err)
	}
	defer cluster.Close()
	cfg.Kafka.Brokers = cluster.ListenAddrs()

	lns, err := listenAll(cfg.HTTP.Addr, cfg.Enrich.HTTPAddr, *sandboxAddr)
	if err != nil {
		return err
	}
	admin, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...))
	if err != nil {
		return err
	}
	_, err = ensureTopics(ctx, kadm.NewClient(admin), cfg, io.Discard, logger)
	admin.Close()
	if err != nil {
		return err
	}

	sb := sandbox.New(sandbox.Options{Tokens: map[string]string{devTenant: devAPIToken}, AcceptAnyToken: true,
		Logger: logger.Named("sandbox")})
	defer sb.Close()
	for _, ev := range []string{"lead_created", "lead_changed"} {
		if _, err := sb.AddWebhook(devTenant, sandbox.Webhook{Description: "leadbridge dev " + ev, Event: ev, Enabled: true,
			URLTemplate:   "http://" + cfg.HTTP.Addr + "/webhooks/aurora/" + devTenant + "/" + ev + "?lead_id=<LEAD_ID>&source=<SOURCE>",
			HeaderAuthKey: devHookHeader, HeaderAuthValue: devHookToken}); err != nil {
			return fmt.Errorf("sandbox subscription: %w", err)
		}
	}

	var wg sync.WaitGroup
	errs := make([]error, 3)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { errs[0] = serveIngest(ctx, cfg, lns[0], logger.Named("ingest")); cancel() })
	wg.Go(func() {
		errs[1] = serveEnrich(ctx, cfg, lns[1], aurora.NewClient(cfg.Aurora.APIURL, nil, logger.Named("aurora")), logger.Named("enrich"))
		cancel()
	})
	wg.Go(func() { errs[2] = serveHandler(ctx, lns[2], sb.Handler()); cancel() })
	printDevBanner(stdout, cfg, *sandboxAddr, *data)
	wg.Wait()
	return errors.Join(errs...)
}

// devConfig is the configuration dev mode runs with: the defaults, the
// well-known tenant and account, small topics.
func devConfig(httpAddr, enrichAddr, sandboxURL string) Config {
	cfg := defaultConfig()
	cfg.Log.Level = "warn"
	cfg.HTTP.Addr = httpAddr
	cfg.Enrich.HTTPAddr = enrichAddr
	cfg.Enrich.ShutdownGrace = 2 * time.Second
	cfg.Topics.Partitions = 3
	cfg.Aurora.APIURL = sandboxURL
	cfg.Aurora.Tenants = []TenantConfig{{ID: devTenant, APIToken: devAPIToken,
		WebhookAuth: WebhookAuthConfig{Header: devHookHeader, Tokens: []schema.Secret{devHookToken}}}}
	cfg.LeadPro.Accounts = []AccountConfig{{ID: devAccount, SigningSecrets: []schema.Secret{devSecret}}}
	return cfg
}

func listenAll(addrs ...string) ([]net.Listener, error) {
	var lns []net.Listener
	for _, a := range addrs {
		ln, err := listen(a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

func printDevBanner(w io.Writer, cfg Config, sandboxAddr, data string) {
	in := "http://" + cfg.HTTP.Addr
	sb := "http://" + sandboxAddr
	fmt.Fprintf(w, `leadbridge dev is running (Ctrl-C to stop; broker data in %s)

  Kafka (in process)   %s   topics %s, %s, %s
  Aurora webhooks      %s/webhooks/aurora/%s/{event}?lead_id=...   header %s: %s
  LeadPro webhooks     %s/webhooks/leadpro/%s   HS256 JWT signed with %q
  Aurora sandbox       %s   (API token %s; lead_created/lead_changed subscriptions point at ingest)
  health, metrics      %s/readyz  %s/metrics  http://%s/metrics

Create a lead in the sandbox; it fires lead_created through ingest and enrich:
  curl -s -X POST %s/tenants/%s/leads -H 'Authorization: Bearer %s' \
    -d '{"lead":{"address":"434 Brannan St, San Francisco, CA, 94107","customer":{"customer_first_name":"Jane","customer_last_name":"Doe","customer_email":"jane@example.com"}}}'

Send a signed LeadPro webhook:
  leadbridge simulate --url %s --provider leadpro --account %s --secret %s

Watch the lead records:
  LEADBRIDGE_KAFKA_BROKERS=%s leadbridge tail leads
`,
		data, cfg.Kafka.Brokers[0], cfg.Topics.Raw, cfg.Topics.Leads, cfg.Topics.DLQ,
		in, devTenant, devHookHeader, devHookToken,
		in, devAccount, devSecret,
		sb, devAPIToken,
		in, in, cfg.Enrich.HTTPAddr,
		sb, devTenant, devAPIToken,
		in, devAccount, devSecret,
		cfg.Kafka.Brokers[0])
}
