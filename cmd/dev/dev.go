package dev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/topics"
	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/leadbridge/leadbridge/enrich/aurora"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/enrich/aurora/subscription"
	"github.com/leadbridge/leadbridge/schema"
)

// The dev mode's well-known tenant, account and credentials. They only ever
// guard a loopback playground, so they are printed to be pasted.
const (
	Tenant     = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	Account    = "9999"
	HookHeader = "X-Aurora-Webhook-Token"
	HookToken  = "dev-webhook-token"
	APIToken   = "dev-api-token"
	Secret     = "dev-leadpro-signing-secret"
)

// Options are the flags of `leadbridge dev`.
type Options struct {
	DataDir     string // the broker's data, kept across restarts
	KafkaPort   int    // of the in-process broker on 127.0.0.1
	HTTPAddr    string // ingest
	EnrichAddr  string // enrich's health and metrics
	SandboxAddr string // the Aurora sandbox
	Verbose     bool   // log at info (every request); default warn
}

// Config is the configuration dev mode runs with: the defaults, the
// well-known tenant and account, small topics.
func Config(o Options) config.Config {
	cfg := config.Default()
	cfg.Log.Level = "warn"
	if o.Verbose {
		cfg.Log.Level = "info"
	}
	cfg.Kafka.Brokers = []string{fmt.Sprintf("127.0.0.1:%d", o.KafkaPort)}
	cfg.HTTP.Addr = o.HTTPAddr
	cfg.Enrich.HTTPAddr = o.EnrichAddr
	cfg.Enrich.ShutdownGrace = 2 * time.Second
	cfg.Topics.Partitions = 3
	cfg.Aurora.APIURL = "http://" + o.SandboxAddr
	cfg.Aurora.Tenants = []config.Tenant{{ID: Tenant, APIToken: APIToken,
		WebhookAuth: config.WebhookAuth{Header: HookHeader, Tokens: []schema.Secret{HookToken}}}}
	cfg.LeadPro.Accounts = []config.Account{{ID: Account, SigningSecrets: []schema.Secret{Secret}}}
	return cfg
}

// Need is what the dev stack needs of its configuration: everything.
var Need = config.Need{Webhooks: true, APITokens: true}

// Run runs the dev stack until ctx ends, printing the banner on stdout.
// A configuration problem is returned before anything starts.
func Run(ctx context.Context, o Options, stdout io.Writer) error {
	cfg := Config(o)
	if err := cfg.Validate(Need); err != nil {
		return fmt.Errorf("invalid dev configuration: %w", err)
	}
	logger, err := wire.NewLogger(cfg.Log.Level)
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck // nothing useful to do with a failed sync of stderr

	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(o.KafkaPort), kfake.DataDir(filepath.Clean(o.DataDir)),
		kfake.ClusterID("leadbridge-dev"))
	if err != nil {
		return fmt.Errorf("start the in-process broker on port %d (--kafka-port moves it): %w", o.KafkaPort, err)
	}
	defer cluster.Close()
	cfg.Kafka.Brokers = cluster.ListenAddrs()

	lns, err := wire.ListenAll(cfg.HTTP.Addr, cfg.Enrich.HTTPAddr, o.SandboxAddr)
	if err != nil {
		return fmt.Errorf("%w (--http-addr, --enrich-addr and --sandbox-addr move them)", err)
	}
	admin, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...))
	if err != nil {
		return err
	}
	_, err = topics.Ensure(ctx, kadm.NewClient(admin), cfg.Topics, io.Discard)
	admin.Close()
	if err != nil {
		return err
	}

	sb := sandbox.New(sandbox.Options{Tokens: map[string]string{Tenant: APIToken}, AcceptAnyToken: true,
		Logger: logger.Named("sandbox")})
	defer sb.Close()
	for _, ev := range []string{"lead_created", "lead_changed"} {
		if _, err := sb.AddWebhook(Tenant, sandbox.Webhook{Description: "leadbridge dev " + ev, Event: ev, Enabled: true,
			URLTemplate:   subscription.URLTemplate("http://"+cfg.HTTP.Addr, Tenant, ev),
			HeaderAuthKey: HookHeader, HeaderAuthValue: HookToken}); err != nil {
			return fmt.Errorf("sandbox subscription: %w", err)
		}
	}

	var wg sync.WaitGroup
	errs := make([]error, 3)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() {
		errs[0] = wire.Ingest(ctx, cfg, wire.IngestListeners{Public: lns[0]}, logger.Named("ingest"))
		cancel()
	})
	wg.Go(func() {
		errs[1] = wire.Enrich(ctx, cfg, lns[1], aurora.NewClient(cfg.Aurora.APIURL, wire.APIClient(cfg), logger.Named("aurora")), logger.Named("enrich"))
		cancel()
	})
	wg.Go(func() { errs[2] = wire.ServeHandler(ctx, lns[2], sb.Handler()); cancel() })
	printBanner(stdout, cfg, o)
	wg.Wait()
	return errors.Join(errs...)
}

func printBanner(w io.Writer, cfg config.Config, o Options) {
	in := "http://" + cfg.HTTP.Addr
	sb := "http://" + o.SandboxAddr
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
		o.DataDir, cfg.Kafka.Brokers[0], cfg.Topics.Raw, cfg.Topics.Leads, cfg.Topics.DLQ,
		in, Tenant, HookHeader, HookToken,
		in, Account, Secret,
		sb, APIToken,
		in, in, cfg.Enrich.HTTPAddr,
		sb, Tenant, APIToken,
		in, Account, Secret,
		cfg.Kafka.Brokers[0])
}
