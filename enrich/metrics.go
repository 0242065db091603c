package enrich

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	apiCalls  *prometheus.CounterVec   // status
	records   *prometheus.CounterVec   // provider, outcome
	dlq       *prometheus.CounterVec   // reason
	latency   prometheus.Histogram     // raw ce_time -> leads ack
	lag       *prometheus.GaugeVec     // partition
	coalesced prometheus.Counter       // events served by another event's API call
	share     prometheus.Gauge         // this member's share of the API budget
	inflight  prometheus.Gauge         // API calls in flight
	apiTime   *prometheus.HistogramVec // status class
	aborts    prometheus.Counter       // transactions aborted
	restore   prometheus.Histogram     // restoring one partition's state
	restarts  prometheus.Counter       // clients replaced after a failed transaction end or begin
	refused   prometheus.Counter       // polled records blamed for a transaction the brokers refused a record of
	dropped   prometheus.Counter       // polled records given up: even their DLQ record was refused
	streak    prometheus.Gauge         // transactions aborted in a row
}

// newMetrics registers the member's metrics in reg; outstanding reports the
// records polled and not yet done, read at each scrape.
func newMetrics(reg prometheus.Registerer, outstanding func() int) *metrics {
	m := &metrics{
		apiCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadbridge_enrich_api_calls_total", Help: "Aurora Retrieve Lead calls by HTTP status (error: no answer).",
		}, []string{"status"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadbridge_enrich_records_total",
			Help: "Raw events by provider and outcome: produced (lead record written), coalesced, unchanged (same content as the last record), stale (older than the last record), erased, retried (moved to the retry topic), skipped (not a lead event), dlq, dropped (given up: the brokers refused even its DLQ record).",
		}, []string{"provider", "outcome"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadbridge_enrich_dlq_total", Help: "Raw events sent to the DLQ, by reason.",
		}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "leadbridge_enrich_latency_seconds",
			Help:    "From the raw event's ce_time to the lead record's ack.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 12),
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leadbridge_enrich_consumer_lag",
			Help: "Raw-topic records the group has not committed, per partition this member owns: the high watermark minus the committed offset (the log start offset before the first commit), measured at the brokers every lag_interval.",
		}, []string{"partition"}),
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadbridge_enrich_coalesced_events_total", Help: "Aurora events served by an API call made for a later event of the same lead.",
		}),
		share: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leadbridge_enrich_quota_share", Help: "This member's share of requests_per_minute (its share of the raw partitions).",
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leadbridge_enrich_api_inflight", Help: "Aurora API calls in flight.",
		}),
		apiTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "leadbridge_enrich_api_duration_seconds", Help: "Aurora Retrieve Lead call duration.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}, []string{"status"}),
	}
	m.aborts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "leadbridge_enrich_transactions_aborted_total", Help: "Exactly-once batches aborted (and read again): rebalances, shutdowns, failed produces.",
	})
	m.restore = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "leadbridge_enrich_state_restore_seconds", Help: "Restoring one raw partition's lead state from the state topic.",
		Buckets: prometheus.ExponentialBuckets(0.01, 3, 10),
	})
	m.restarts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "leadbridge_enrich_restarts_total", Help: "Exactly-once member restarts: a transaction could not end or begin, so the Kafka client was replaced by a new one with the same transactional id.",
	})
	m.refused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "leadbridge_enrich_refused_total", Help: "Raw and retry records blamed for an aborted transaction because the brokers refused a record written for them for good (too large, invalid), counted each time (a suspect among several, until told apart, too); read again, the culprits go to the DLQ as unproducible.",
	})
	m.dropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "leadbridge_enrich_dropped_total", Help: "Raw and retry records given up because the brokers refused even their DLQ record (logged by topic, partition and offset).",
	})
	m.streak = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "leadbridge_enrich_transaction_abort_streak", Help: "Exactly-once transactions aborted in a row since the last commit: one that keeps growing is a batch that cannot commit.",
	})
	polled := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "leadbridge_enrich_outstanding_records",
		Help: "Raw and retry records this member has polled and not yet done (enriched, dead-lettered, moved to the retry topic or skipped); at most max_outstanding.",
	}, func() float64 { return float64(outstanding()) })
	reg.MustRegister(polled, m.apiCalls, m.records, m.dlq, m.latency, m.lag, m.coalesced, m.share, m.inflight, m.apiTime, m.aborts, m.restore, m.restarts, m.refused, m.dropped, m.streak)
	return m
}

func statusLabel(status int) string {
	if status == 0 {
		return "error"
	}
	return strconv.Itoa(status)
}
