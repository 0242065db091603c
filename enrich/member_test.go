package enrich_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/enrich/aurora"
	"github.com/leadbridge/leadbridge/schema"
)

// envChild makes the test binary run one enricher member instead of the
// tests, so a test can SIGKILL a member: a real crash, with no revoke
// callback, no final commit and no leave.
const envChild = "LEADBRIDGE_ENRICH_TEST_CHILD"

type childSpec struct {
	Seeds                  []string
	Raw, Leads, DLQ, Group string
	State, Retry           string
	APIURL                 string
	Tokens                 map[string]string
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(envChild); spec != "" {
		runChild(spec)
		return
	}
	os.Exit(m.Run())
}

func runChild(spec string) {
	var s childSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		panic(err)
	}
	tokens := map[string]schema.Secret{}
	for k, v := range s.Tokens {
		tokens[k] = schema.Secret(v)
	}
	e, err := enrich.New(enrich.Config{RawTopic: s.Raw, LeadsTopic: s.Leads, DLQTopic: s.DLQ, APITokens: tokens,
		StateTopic: s.State, RetryTopic: s.Retry,
		RequestsPerMinute: 1_000_000, BackoffBase: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond},
		aurora.NewClient(s.APIURL, nil, zap.NewNop()), zap.NewNop())
	if err != nil {
		panic(err)
	}
	client, err := e.NewClient(context.Background(), kgo.SeedBrokers(s.Seeds...), kgo.ConsumerGroup(s.Group), kgo.ProducerLinger(0))
	if err != nil {
		panic(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	_ = e.Run(ctx, client)
	client.Close()
}

// startChild runs a member in a child process; the returned kill is SIGKILL.
func (h *harness) startChild() (kill func()) {
	h.t.Helper()
	tokens := map[string]string{}
	for k, v := range h.tokens {
		tokens[k] = v.Reveal()
	}
	spec, _ := json.Marshal(childSpec{Seeds: h.b.Seeds, Raw: h.raw, Leads: h.leads, DLQ: h.dlq, Group: h.group, State: h.state, Retry: h.retry,
		APIURL: h.apiURL, Tokens: tokens})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+string(spec))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	killed := false
	kill = func() {
		if !killed {
			killed = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	h.t.Cleanup(kill)
	return kill
}
