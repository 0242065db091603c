package bench

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/wire"
)

// The servers the bench compares, each run as a child process of its own
// (`leadbridge bench serve <server>`) so that its CPU time and peak RSS are
// its own: the load generator stays in the parent.
const (
	ServerBare   = "bare"   // net/http answering 200 at once: the machine's ceiling
	ServerNaive  = "naive"  // net/http, a token check, a JSON value, ProduceSync: the afternoon's handler
	ServerIngest = "ingest" // leadbridge ingest, wired as in production
)

// ServerBaseline is ingest from another binary (Ingest.Baseline), for a
// before/after comparison in one run; it is not a server of its own.
const ServerBaseline = "baseline"

// Servers are the servers of a run, in the order of its rounds.
var Servers = []string{ServerBare, ServerNaive, ServerIngest}

// ServeFunc serves on ln until ctx ends.
type ServeFunc func(ctx context.Context, ln net.Listener) error

// Server returns the child's server named name, configured by cfg (which
// the parent wrote into the child's LEADBRIDGE_* variables).
func Server(name string, cfg config.Config, logger *zap.Logger) (ServeFunc, error) {
	switch name {
	case ServerBare:
		return func(ctx context.Context, ln net.Listener) error {
			return wire.Serve(ctx, ln, &http.Server{Handler: http.HandlerFunc(bareHandler)}, 0)
		}, nil
	case ServerNaive:
		return func(ctx context.Context, ln net.Listener) error { return serveNaive(ctx, ln, cfg) }, nil
	case ServerIngest:
		return func(ctx context.Context, ln net.Listener) error {
			return wire.Ingest(ctx, cfg, wire.IngestListeners{Public: ln}, logger)
		}, nil
	}
	return nil, fmt.Errorf("unknown server %q (want one of %s)", name, strings.Join(Servers, ", "))
}

// Serve is the child's side: it serves on the listener inherited as file
// descriptor 3 until in (the parent's pipe) closes, and obeys the lines it
// reads: "profile FILE" starts a CPU profile into FILE, "stop" ends it. It
// answers each line with "ok" or "error: ..." on out.
func Serve(ctx context.Context, in io.Reader, out io.Writer, serve ServeFunc) error {
	ln, err := net.FileListener(os.NewFile(3, "bench-listener"))
	if err != nil {
		return fmt.Errorf("inherited listener (fd 3): %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln) }()

	var profile *os.File
	defer func() {
		if profile != nil {
			pprof.StopCPUProfile()
			profile.Close()
		}
	}()
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		cmd, arg, _ := strings.Cut(lines.Text(), " ")
		var err error
		switch {
		case cmd == "profile" && profile == nil:
			if profile, err = os.Create(arg); err == nil {
				if err = pprof.StartCPUProfile(profile); err != nil {
					profile.Close()
					profile = nil
				}
			}
		case cmd == "stop" && profile != nil:
			pprof.StopCPUProfile()
			err = profile.Close()
			profile = nil
		default:
			err = fmt.Errorf("unexpected %q", cmd)
		}
		if err != nil {
			fmt.Fprintf(out, "error: %v\n", err)
		} else {
			fmt.Fprintln(out, "ok")
		}
	}
	cancel() // the parent closed the pipe (or died): stop as on a signal
	return <-served
}

// bareAnswer is as long as ingest's 200 body, so both send the same bytes.
var bareAnswer = []byte(`{"id":"00000000-0000-7000-8000-000000000000"}` + "\n")

// bareHandler reads the request and answers 200.
func bareHandler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(bareAnswer)
}

// serveNaive is the handler a competent engineer writes in an afternoon, the
// second reference: net/http, one constant-time token check, a JSON value
// and franz-go's ProduceSync with acks=all, idempotence and no linger (kgo's
// defaults otherwise, snappy among them). Aurora only, header token only.
func serveNaive(ctx context.Context, ln net.Listener, cfg config.Config) error {
	client, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...), kgo.DefaultProduceTopic(cfg.Topics.Raw),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer client.Close()
	t := cfg.Aurora.Tenants[0]
	header, token := t.WebhookAuth.Header, []byte(t.WebhookAuth.Tokens[0].Reveal())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /webhooks/aurora/{tenant}/{event}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("tenant") != t.ID || subtle.ConstantTimeCompare([]byte(r.Header.Get(header)), token) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		attrs := map[string]string{}
		for k, v := range r.URL.Query() {
			attrs[k] = v[0]
		}
		id := uuid.New()
		value, err := json.Marshal(map[string]any{"id": id, "tenant_id": t.ID, "event": r.PathValue("event"), "attributes": attrs})
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		rec := &kgo.Record{Key: []byte(attrs["lead_id"]), Value: value}
		if err := client.ProduceSync(r.Context(), rec).FirstErr(); err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"id\":%q}\n", id)
	})
	err = wire.Serve(ctx, ln, &http.Server{Handler: mux}, cfg.HTTP.AckTimeout)
	if ferr := client.Flush(context.WithoutCancel(ctx)); err == nil {
		err = ferr
	}
	return err
}
