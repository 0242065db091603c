package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/topics"
	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/leadbridge/leadbridge/enrich"
	"github.com/leadbridge/leadbridge/enrich/aurora"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
	"github.com/leadbridge/leadbridge/schema"
)

// Run is one scenario of the enrich benchmark: set the fields, then Do.
type Run struct {
	Name                                      string // latency or quota
	Events, Leads, Tenants, Members, InFlight int    // backlog, distinct leads, API tokens, group members, max_in_flight
	RPM                                       int    // requests per minute per token
	Latency                                   time.Duration
	Limit                                     bool    // the sandbox enforces RPM per token
	Bound                                     float64 // calls/s bound (latency scenario)
	CPUProfile                                string  // file for a CPU profile of the drain; empty: none
	AtLeastOnce                               bool    // enrich.exactly_once: false
	// Poison leads answer 500 to every call; their events are produced
	// before the backlog's, so they are the first the members meet. The
	// drain then waits for the good leads' records and for every poison
	// lead in the DLQ (after RetryFor).
	Poison   int
	RetryFor time.Duration // enrich.retry_for; zero: the default
}

// poisonCalls is how many 500s the sandbox queues per poison lead: far more
// calls than any retry_for allows with enrich's backoff.
const poisonCalls = 1000

// Result is what Do measured.
type Result struct {
	Rate float64       // events/s over the drain
	Took time.Duration // from starting the members to the last good lead's record
	// DLQ is when each poison lead reached the DLQ, from starting the
	// members, in arrival order.
	DLQ []time.Duration
}

// Do runs the scenario and returns its drain rate in events/s.
func (r Run) Do(ctx context.Context, brokers []string, w io.Writer) (Result, error) {
	id := uuid.NewString()[:8]
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Log.Level = "error"
	cfg.Topics.Raw, cfg.Topics.Leads, cfg.Topics.DLQ = "bench-raw-"+id, "bench-leads-"+id, "bench-dlq-"+id
	cfg.Topics.Erasures, cfg.Topics.State, cfg.Topics.Retry = "bench-erasures-"+id, "bench-state-"+id, "bench-retry-"+id
	eos := !r.AtLeastOnce
	cfg.Enrich.ExactlyOnce = &eos
	cfg.Enrich.GroupID = "bench-enrich-" + id
	cfg.Enrich.MaxInFlight = r.InFlight
	if r.RetryFor > 0 {
		cfg.Enrich.RetryFor = r.RetryFor
	}
	cfg.Aurora.RequestsPerMinute = r.RPM
	logger := zap.NewNop()

	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return Result{}, err
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	if _, err := topics.Ensure(ctx, adm, cfg.Topics, io.Discard); err != nil {
		return Result{}, err
	}
	defer adm.DeleteTopics(context.WithoutCancel(ctx), cfg.Topics.Raw, cfg.Topics.Leads, cfg.Topics.DLQ, //nolint:errcheck
		cfg.Topics.Erasures, cfg.Topics.State, cfg.Topics.Retry)

	opts := sandbox.Options{Tokens: map[string]string{}, Latency: r.Latency}
	if r.Limit {
		opts.RateLimit, opts.RateWindow = r.RPM, time.Minute
	}
	type lead struct{ tenant, id string }
	var leads []lead
	for t := range r.Tenants {
		tenant := fmt.Sprintf("bench-tenant-%02d", t)
		opts.Tokens[tenant] = "token-" + tenant
		cfg.Aurora.Tenants = append(cfg.Aurora.Tenants, config.Tenant{ID: tenant, APIToken: schema.Secret("token-" + tenant)})
	}
	sb := sandbox.New(opts)
	defer sb.Close()
	for i := range r.Leads {
		tenant := cfg.Aurora.Tenants[i%r.Tenants].ID
		leads = append(leads, lead{tenant, sb.PutLead(tenant, map[string]any{"address": "1 Main St, Springfield, IL, 62701"})})
	}
	// Poison: every call answers 500, as long as any run can last.
	poison := map[string]bool{}
	for i := range r.Poison {
		tenant := cfg.Aurora.Tenants[i%r.Tenants].ID
		id := sb.PutLead(tenant, map[string]any{"address": "13 Elm St, Springfield, IL, 62701"})
		sb.FailNext(id, sandbox.Repeat(sandbox.Fault{Status: 500}, poisonCalls)...)
		poison[schema.AuroraKey(tenant, id)] = true
		leads = append([]lead{{tenant, id}}, leads...)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, err
	}
	apiCtx, stopAPI := context.WithCancel(ctx)
	defer stopAPI()
	api := &firstCall{h: sb.Handler()}
	go wire.ServeHandler(apiCtx, ln, api) //nolint:errcheck
	cfg.Aurora.APIURL = "http://" + ln.Addr().String()

	// The backlog, produced before any member starts.
	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(cfg.Topics.Raw))
	if err != nil {
		return Result{}, err
	}
	for i := range r.Poison + r.Events {
		l := leads[min(i, r.Poison)] // the poison leads first, then the good ones in turn
		if i >= r.Poison {
			l = leads[r.Poison+(i-r.Poison)%r.Leads]
		}
		data, _ := json.Marshal(schema.AuroraData{Event: "lead_changed", TenantID: l.tenant, Attributes: map[string]string{"lead_id": l.id}})
		ev := schema.Event{ID: uuid.Must(uuid.NewV7()).String(), Source: schema.AuroraSource(l.tenant),
			Type: schema.AuroraTypePrefix + "lead_changed", Subject: l.id, Time: time.Now().UTC(),
			PartitionKey: schema.AuroraKey(l.tenant, l.id), Data: data}
		producer.Produce(ctx, ev.Record(), nil)
	}
	if err := producer.Flush(ctx); err != nil {
		return Result{}, fmt.Errorf("produce backlog: %w", err)
	}
	producer.Close()

	// Members, then wait until every lead has a record.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if r.CPUProfile != "" {
		f, err := os.Create(r.CPUProfile)
		if err != nil {
			return Result{}, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return Result{}, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	cpu0, cpuKnown := processCPU()
	start := time.Now()
	done := make(chan error, r.Members)
	var metricsAt []string // the members' /metrics
	for range r.Members {
		eln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return Result{}, err
		}
		metricsAt = append(metricsAt, eln.Addr().String())
		// The label marks the members' goroutines (and the ones they start)
		// in the profile, apart from the sandbox's and the observer's.
		go pprof.Do(runCtx, pprof.Labels("bench", "enrich-member"), func(ctx context.Context) {
			done <- wire.Enrich(ctx, cfg, eln, aurora.NewClient(cfg.Aurora.APIURL, wire.APIClient(cfg), logger), logger)
		})
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(cfg.Topics.Leads, cfg.Topics.DLQ),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return Result{}, err
	}
	defer consumer.Close()
	// Poison ends in the DLQ after retry_for; past that and a margin, the
	// run has failed.
	wctx, cancel := context.WithTimeout(ctx, time.Duration(max(r.Poison, 1))*cmp.Or(r.RetryFor, enrich.DefaultRetryFor)*3+5*time.Minute)
	defer cancel()
	// keys: leads with a record, or a good lead in the DLQ; each is
	// counted once, however many records it gets.
	keys, dlqKeys, records, good, goodInDLQ := map[string]bool{}, map[string]bool{}, 0, r.Leads, 0
	var dlqAt []time.Duration
	var failing []time.Duration // per DLQ record: from its first failure to the DLQ
	var took, fromAPI time.Duration
	var cpu1 time.Duration
	for good > 0 || len(dlqAt)-goodInDLQ < r.Poison {
		if wctx.Err() != nil {
			return Result{}, fmt.Errorf("%d good leads without a record, %d of %d poison leads in the DLQ: %w", good, len(dlqAt), r.Poison, wctx.Err())
		}
		consumer.PollFetches(wctx).EachRecord(func(rec *kgo.Record) {
			if rec.Topic == cfg.Topics.DLQ {
				dlqAt = append(dlqAt, time.Since(start))
				first, err1 := time.Parse(time.RFC3339Nano, schema.Header(rec, schema.HeaderDLQFirstFailure))
				last, err2 := time.Parse(time.RFC3339Nano, schema.Header(rec, schema.HeaderDLQLastFailure))
				if err1 == nil && err2 == nil {
					failing = append(failing, last.Sub(first))
				}
				if k := string(rec.Key); !poison[k] {
					goodInDLQ++ // reported below
					if !keys[k] && !dlqKeys[k] {
						good--
					}
					dlqKeys[k] = true
				}
				return
			}
			records++
			if k := string(rec.Key); !keys[k] && !dlqKeys[k] {
				good--
			}
			keys[string(rec.Key)] = true
		})
		if good == 0 && took == 0 {
			took, fromAPI = time.Since(start), time.Since(api.time())
			cpu1, _ = processCPU()
		}
	}
	// A figure beside the result, not the result: a member whose /metrics
	// cannot be read costs the line, not the run.
	callMean, callErr := callTime(ctx, metricsAt)
	stop()
	var errs []error
	for range r.Members {
		errs = append(errs, <-done)
	}
	st := sb.Stats()
	calls := st.ByRoute[sandbox.RouteRetrieveLead]
	rate := float64(r.Events) / took.Seconds()
	res := Result{Rate: rate, Took: took, DLQ: dlqAt}
	mode := "exactly-once"
	if r.AtLeastOnce {
		mode = "at-least-once"
	}
	fmt.Fprintf(w, "\nscenario %s (%s): %d events over %d leads, %d tenants, %d members x %d in flight\n",
		r.Name, mode, r.Events, r.Leads, r.Tenants, r.Members, r.InFlight)
	if r.Poison > 0 {
		fmt.Fprintf(w, "  and %d poison leads answering 500 first, retry_for %s\n", r.Poison, cfg.Enrich.RetryFor)
	}
	fmt.Fprintf(w, "  drained in %.1fs: %.0f events/s, %d API calls (%.3f per event), %d x 429, %d in the DLQ\n",
		took.Seconds(), rate, calls, float64(calls)/float64(r.Events), st.ByStatus[429], len(dlqAt))
	switch r.Name {
	case "latency":
		fmt.Fprintf(w, "  bound (in flight / latency): %.0f calls/s; reached %.0f calls/s = %.2fx of it, group join included\n",
			r.Bound, float64(calls)/took.Seconds(), float64(calls)/took.Seconds()/r.Bound)
		fmt.Fprintf(w, "  from the first API call to the last lead record: %.2fs, %.0f calls/s = %.2fx of the bound\n",
			fromAPI.Seconds(), float64(calls)/fromAPI.Seconds(), float64(calls)/fromAPI.Seconds()/r.Bound)
		if callErr != nil {
			fmt.Fprintf(w, "  the members' call time could not be read: %v\n", callErr)
		}
		if m := callMean; m > 0 {
			// The bound at the calls' own time: what a member that never
			// left a slot idle would reach on this machine.
			own := r.Bound * r.Latency.Seconds() / m.Seconds()
			fmt.Fprintf(w, "  the members' calls took %.1fms on average (request to body read, the API's %s included): at that time the bound is %.0f calls/s, reached %.2fx of it from the first API call\n",
				float64(m.Microseconds())/1000, r.Latency, own, float64(calls)/fromAPI.Seconds()/own)
		}
	case "poison":
		if r.Poison > 0 {
			// dlqAt is in arrival order.
			fmt.Fprintf(w, "  poison: %d of %d in the DLQ, the first %.1fs and the last %.1fs after the start = %.2fx and %.2fx retry_for\n",
				len(dlqAt), r.Poison, dlqAt[0].Seconds(), dlqAt[len(dlqAt)-1].Seconds(),
				dlqAt[0].Seconds()/cfg.Enrich.RetryFor.Seconds(), dlqAt[len(dlqAt)-1].Seconds()/cfg.Enrich.RetryFor.Seconds())
			if len(failing) > 0 {
				slices.Sort(failing)
				fmt.Fprintf(w, "  each after failing for %.1fs to %.1fs (its first failure to the DLQ) = %.2fx to %.2fx retry_for\n",
					failing[0].Seconds(), failing[len(failing)-1].Seconds(),
					failing[0].Seconds()/cfg.Enrich.RetryFor.Seconds(), failing[len(failing)-1].Seconds()/cfg.Enrich.RetryFor.Seconds())
			}
		}
	case "quota":
		agg := float64(r.RPM*r.Tenants) / 60
		ideal := float64(calls) / agg
		fmt.Fprintf(w, "  aggregate quota %.1f calls/s: %d calls need >= %.1fs; drained in %.1fs = %.2fx the quota-bound time\n",
			agg, calls, ideal, took.Seconds(), took.Seconds()/ideal)
	}
	if cpuKnown && records > 0 {
		fmt.Fprintf(w, "  process CPU per lead record: %.1fus (%d records; enrich members, sandbox and observer together:\n"+
			"  the CPU profile's samples labelled bench=enrich-member are the members' alone)\n",
			float64((cpu1-cpu0).Microseconds())/float64(records), records)
	}
	if goodInDLQ > 0 {
		errs = append(errs, fmt.Errorf("%d good leads went to the DLQ", goodInDLQ))
	}
	for k := range poison {
		if keys[k] {
			errs = append(errs, fmt.Errorf("a poison lead got a lead record: more calls than the %d failures queued", poisonCalls))
			break
		}
	}
	return res, errors.Join(errs...)
}
