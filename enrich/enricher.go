package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/enrich/aurora"
	"github.com/leadbridge/leadbridge/schema"
)

// LeadFetcher is all enrich needs from Aurora: the current state of a lead
// as the Retrieve Lead JSON body. *aurora.Client implements it.
type LeadFetcher interface {
	RetrieveLead(ctx context.Context, tenantID, token, leadID string) ([]byte, error)
}

var _ LeadFetcher = (*aurora.Client)(nil)

// Config is what an Enricher needs; cmd/leadbridge builds it from the user's
// configuration. Zero durations and counts take the documented defaults.
type Config struct {
	RawTopic, LeadsTopic, DLQTopic string

	// APITokens maps an Aurora tenant id to its API token. An Aurora lead
	// event of a tenant without one goes to the DLQ (reason no_api_token).
	APITokens map[string]schema.Secret
	// RequestsPerMinute is the Aurora budget per API token for the whole group.
	RequestsPerMinute int

	MaxInFlight      int           // concurrent API calls per member; default 64
	RequestTimeout   time.Duration // one API call; default 10s
	RetryFor         time.Duration // retrying timeouts, 5xx and 429 before the DLQ; default 10m
	NotFoundRetryFor time.Duration // retrying 404 (a new lead can lag its webhook); default 2m
	BackoffBase      time.Duration // first retry wait; default 1s
	BackoffMax       time.Duration // longest retry wait; default 1m
	// MaxOutstanding bounds polled records not yet committable; polling
	// pauses beyond it, so memory stays bounded however slow the API is.
	// Default 10000.
	MaxOutstanding int
	CommitInterval time.Duration // default 1s
	// ShutdownGrace is how long Run lets in-flight work finish after its
	// context ends; what is unfinished then is re-processed by the group.
	// Default 15s.
	ShutdownGrace time.Duration

	Metrics prometheus.Registerer // nil: a private registry
	Now     func() time.Time      // default time.Now
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 64
	}
	if c.MaxOutstanding <= 0 {
		c.MaxOutstanding = 10000
	}
	if c.RequestsPerMinute <= 0 {
		c.RequestsPerMinute = 90
	}
	def(&c.RequestTimeout, 10*time.Second)
	def(&c.RetryFor, 10*time.Minute)
	def(&c.NotFoundRetryFor, 2*time.Minute)
	def(&c.BackoffBase, time.Second)
	def(&c.BackoffMax, time.Minute)
	def(&c.CommitInterval, time.Second)
	def(&c.ShutdownGrace, 15*time.Second)
	if c.Metrics == nil {
		c.Metrics = prometheus.NewRegistry()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Enricher is one member of the enrichment consumer group. Build it with New,
// add ClientOpts to the kgo client, then call Run once.
type Enricher struct {
	cfg   Config
	fetch LeadFetcher
	log   *zap.Logger
	m     *metrics
	quota *quota
	sem   chan struct{}

	client   *kgo.Client
	workCtx  context.Context
	workStop context.CancelFunc
	workers  sync.WaitGroup
	commitMu sync.Mutex // one commit at a time: the loop's, a revoke's, the final one

	mu          sync.Mutex
	parts       map[int32]*partition
	keys        map[string]*keyQueue
	lastUpdated map[string]time.Time // lead key -> newest provider updated_at produced
}

// maxRemembered bounds lastUpdated; past it, arbitrary entries are forgotten
// (a forgotten key only loses the staleness guard until its next record).
const maxRemembered = 200_000

// New returns an Enricher fetching Aurora leads through fetch.
func New(cfg Config, fetch LeadFetcher, logger *zap.Logger) *Enricher {
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Enricher{
		cfg: cfg, fetch: fetch, log: logger, m: newMetrics(cfg.Metrics),
		quota: newQuota(cfg.RequestsPerMinute, cfg.Now), sem: make(chan struct{}, cfg.MaxInFlight),
		workCtx: ctx, workStop: cancel,
		parts: make(map[int32]*partition), keys: make(map[string]*keyQueue), lastUpdated: make(map[string]time.Time),
	}
}

// ClientOpts are the kgo options the Enricher's client needs besides seeds,
// security and kgo.ConsumerGroup: manual commits, rebalances only between
// polls, and the partition callbacks.
func (e *Enricher) ClientOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumeTopics(e.cfg.RawTopic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(e.assigned),
		kgo.OnPartitionsRevoked(e.revoked),
		kgo.OnPartitionsLost(e.lost),
	}
}

// Run consumes until ctx ends, then lets in-flight work finish (up to
// ShutdownGrace), commits what is done and returns. The caller closes the
// client afterwards, which leaves the group.
func (e *Enricher) Run(ctx context.Context, client *kgo.Client) error {
	e.client = client
	commitDone := make(chan struct{})
	go func() {
		defer close(commitDone)
		t := time.NewTicker(e.cfg.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				e.commit(ctx, nil)
			}
		}
	}()
	for ctx.Err() == nil {
		if !e.waitForRoom(ctx) {
			break
		}
		fetches := client.PollRecords(ctx, 1000)
		if fetches.IsClientClosed() {
			break
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				e.log.Warn("fetch", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
			}
		})
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			part := e.partition(fp.Partition)
			if part == nil {
				return
			}
			part.mu.Lock()
			part.hwm = fp.HighWatermark
			part.mu.Unlock()
			for _, r := range fp.Records {
				e.dispatch(part, r)
			}
		})
		client.AllowRebalance()
	}
	<-commitDone
	e.shutdown()
	return nil
}

func (e *Enricher) shutdown() {
	done := make(chan struct{})
	go func() { e.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(e.cfg.ShutdownGrace):
		e.log.Warn("shutdown grace over; unfinished events will be re-processed by the group")
	}
	e.workStop()
	e.workers.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.commit(ctx, nil)
}

// waitForRoom blocks while too many polled records are outstanding.
func (e *Enricher) waitForRoom(ctx context.Context) bool {
	for {
		n := 0
		e.mu.Lock()
		for _, p := range e.parts {
			n += p.outstanding()
		}
		e.mu.Unlock()
		if n < e.cfg.MaxOutstanding {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (e *Enricher) partition(id int32) *partition {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.parts[id]
}

func (e *Enricher) assigned(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	e.mu.Lock()
	for _, id := range m[e.cfg.RawTopic] {
		e.parts[id] = newPartition(e.workCtx, e.cfg.RawTopic, id)
	}
	e.mu.Unlock()
	e.updateShare(ctx, cl)
}

func (e *Enricher) revoked(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	e.drop(m[e.cfg.RawTopic], true, ctx)
	e.updateShare(ctx, cl)
}

func (e *Enricher) lost(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	e.drop(m[e.cfg.RawTopic], false, ctx)
	e.updateShare(ctx, cl)
}

// drop stops the work of partitions leaving this member: cancel what waits,
// wait for produces in flight (so no stale lead record lands after the new
// owner's), and, when revoked cleanly, commit what is done.
func (e *Enricher) drop(ids []int32, commit bool, ctx context.Context) {
	var gone []*partition
	e.mu.Lock()
	for _, id := range ids {
		if p, ok := e.parts[id]; ok {
			gone = append(gone, p)
		}
	}
	e.mu.Unlock()
	for _, p := range gone {
		p.revoke()
	}
	if commit {
		e.commit(ctx, gone)
	}
	e.mu.Lock()
	for _, p := range gone {
		delete(e.parts, p.id)
		e.m.lag.DeleteLabelValues(fmt.Sprint(p.id))
	}
	e.mu.Unlock()
}

func (e *Enricher) updateShare(ctx context.Context, cl *kgo.Client) {
	e.mu.Lock()
	owned := len(e.parts)
	e.mu.Unlock()
	total := 0
	if owned > 0 {
		topics, err := kadm.NewClient(cl).ListTopics(ctx, e.cfg.RawTopic)
		if err == nil {
			total = len(topics[e.cfg.RawTopic].Partitions)
		}
		if total < owned {
			e.log.Warn("raw topic partition count unknown; taking the whole API budget until the next rebalance", zap.Error(err))
			total = owned
		}
	}
	e.quota.setShare(owned, total)
	share := 0.0
	if total > 0 {
		share = float64(owned) / float64(total)
	}
	e.m.share.Set(share)
	e.log.Info("partitions assigned", zap.Int("owned", owned), zap.Int("total", total), zap.Float64("quota_share", share))
}

// commit commits the done prefix of parts (nil: every owned partition).
func (e *Enricher) commit(ctx context.Context, parts []*partition) {
	e.commitMu.Lock()
	defer e.commitMu.Unlock()
	if parts == nil {
		e.mu.Lock()
		for _, p := range e.parts {
			parts = append(parts, p)
		}
		e.mu.Unlock()
	}
	offsets := map[int32]kgo.EpochOffset{}
	byID := map[int32]*partition{}
	for _, p := range parts {
		byID[p.id] = p
		if eo, ok := p.committable(); ok {
			offsets[p.id] = eo
		}
		p.mu.Lock()
		next := p.hwm
		if len(p.entries) > 0 {
			next = p.entries[0].offset
		}
		lag := p.hwm - next
		p.mu.Unlock()
		e.m.lag.WithLabelValues(fmt.Sprint(p.id)).Set(float64(max(lag, 0)))
	}
	if len(offsets) == 0 {
		return
	}
	var cerr error
	e.client.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{e.cfg.RawTopic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			cerr = errors.Join(err, commitErrors(resp))
			if err != nil || resp == nil {
				return
			}
			for _, t := range resp.Topics {
				for _, rp := range t.Partitions {
					if rp.ErrorCode == 0 {
						byID[rp.Partition].committedAt(offsets[rp.Partition].Offset)
					}
				}
			}
		})
	if cerr != nil {
		e.log.Warn("commit offsets", zap.Error(cerr))
	}
}

// item is one raw record on its way to a lead record.
type item struct {
	rec    *kgo.Record
	ev     schema.Event
	part   *partition
	ent    *entry
	key    string // lead key
	tenant string // Aurora tenant id (Aurora items)
	leadID string
	aurora bool
}

func (it *item) done() { it.part.finish(it.ent) }

// dispatch classifies a polled record and queues its work.
func (e *Enricher) dispatch(part *partition, r *kgo.Record) {
	ent := part.add(r)
	it := &item{rec: r, part: part, ent: ent}
	ev, err := schema.DecodeRecord(r)
	if err != nil {
		e.goWork(func() { e.deadLetter([]*item{it}, "invalid_event", err, 1, e.cfg.Now()) })
		return
	}
	it.ev = ev
	switch {
	case strings.HasPrefix(ev.Type, schema.AuroraTypePrefix):
		if !schema.IsAuroraLeadEvent(strings.TrimPrefix(ev.Type, schema.AuroraTypePrefix)) {
			e.m.records.WithLabelValues(schema.ProviderAurora, "skipped").Inc()
			it.done() // other Aurora events stay on the raw topic for whoever wants them
			return
		}
		var d schema.AuroraData
		if err := json.Unmarshal(ev.Data, &d); err != nil || d.TenantID == "" || d.Attributes["lead_id"] == "" {
			e.goWork(func() {
				e.deadLetter([]*item{it}, "invalid_event", errors.New("aurora lead event without tenant_id or lead_id"), 1, e.cfg.Now())
			})
			return
		}
		it.aurora, it.tenant, it.leadID = true, d.TenantID, d.Attributes["lead_id"]
		it.key = schema.AuroraKey(d.TenantID, it.leadID)
	case strings.HasPrefix(ev.Type, schema.LeadProTypePrefix):
		it.key = ev.PartitionKey
		if it.key == "" {
			it.key = string(r.Key)
		}
	default:
		e.m.records.WithLabelValues("other", "skipped").Inc()
		it.done()
		return
	}
	e.enqueue(it)
}

func (e *Enricher) goWork(f func()) {
	e.workers.Add(1)
	go func() {
		defer e.workers.Done()
		f()
	}()
}

func commitErrors(resp *kmsg.OffsetCommitResponse) error {
	if resp == nil {
		return nil
	}
	var errs []error
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				errs = append(errs, fmt.Errorf("partition %d: %w", p.Partition, err))
			}
		}
	}
	return errors.Join(errs...)
}
