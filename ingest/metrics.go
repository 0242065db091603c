package ingest

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadbridge/leadbridge/schema"
)

// maxUnknownEventNames bounds leadbridge_ingest_aurora_unknown_events_total:
// the first names seen get a series each, later ones are counted as "other",
// so a flood of invented names cannot grow the registry.
const maxUnknownEventNames = 50

// outcome is a delivery's outcome label.
type outcome int

const (
	outcomeAccepted outcome = iota
	outcomeAcceptedWithProblems
	outcomeInvalid
	outcomeUnauthorized
	outcomeTooLarge
	outcomeUnavailable
	outcomeError
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"accepted", "accepted_with_problems", "invalid", "unauthorized", "too_large", "unavailable", "error"}

// The children of deliveries and duration, resolved once at start: a label
// lookup hashes every label value, on every delivery. Every series starts
// at zero.
type (
	outcomeCounters  [numOutcomes]prometheus.Counter
	outcomeObservers [numOutcomes]prometheus.Observer
)

type metrics struct {
	byEvent    map[string]map[string]*outcomeCounters // provider -> event label
	byProvider map[string]*outcomeObservers

	deliveries    *prometheus.CounterVec   // provider, event, outcome
	duration      *prometheus.HistogramVec // provider, outcome
	unknownEvents *prometheus.CounterVec   // event
	produceErrors *prometheus.CounterVec   // reason
	leadproBody   *prometheus.CounterVec   // match

	mu          sync.Mutex
	unknownSeen map[string]bool
}

// delivered counts one delivery and its duration. event is a known event's
// name or "other".
func (m *metrics) delivered(provider, event string, o outcome, took time.Duration) {
	if cs := m.byEvent[provider][event]; cs != nil {
		cs[o].Inc()
	} else { // not one of the names above: a bug, but counted
		m.deliveries.WithLabelValues(provider, event, outcomeNames[o]).Inc()
	}
	m.byProvider[provider][o].Observe(took.Seconds())
}

// unknownEvent counts a delivery of an event Aurora does not document, under
// its name while fewer than maxUnknownEventNames names have been seen (and
// only a name of Aurora's form), else under "other".
func (m *metrics) unknownEvent(name string) {
	label := "other"
	if validUnknownLabel(name) {
		m.mu.Lock()
		if m.unknownSeen[name] || len(m.unknownSeen) < maxUnknownEventNames {
			m.unknownSeen[name] = true
			label = name
		}
		m.mu.Unlock()
	}
	m.unknownEvents.WithLabelValues(label).Inc()
}

func newMetrics(reg prometheus.Registerer, buffered func() float64) *metrics {
	m := &metrics{
		unknownSeen: make(map[string]bool),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadbridge_ingest_deliveries_total",
			Help: "Webhook deliveries by provider, event (known events by name, else other) and outcome.",
		}, []string{"provider", "event", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "leadbridge_ingest_request_duration_seconds",
			Help:    "Time from request to answer, including the wait for the broker's ack.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 8, 10},
		}, []string{"provider", "outcome"}),
		unknownEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadbridge_ingest_aurora_unknown_events_total",
			Help: "Authenticated Aurora deliveries of events not in leadbridge's table (accepted), by name for the first 50 names, then other.",
		}, []string{"event"}),
		produceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadbridge_ingest_produce_errors_total",
			Help: "Events not acknowledged by Kafka, by reason (overloaded, unacknowledged, too_large).",
		}, []string{"reason"}),
		leadproBody: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadbridge_ingest_leadpro_body_total",
			Help: "LeadPro request bodies compared with the signed payload: match, differs, unparseable, absent.",
		}, []string{"match"}),
	}
	reg.MustRegister(m.deliveries, m.duration, m.unknownEvents, m.produceErrors, m.leadproBody)
	events := map[string][]string{
		schema.ProviderAurora:  append(schema.AuroraEventNames(), "other"),
		schema.ProviderLeadPro: {schema.LeadProLeadCreated, schema.LeadProLeadUpdated, "other"},
	}
	m.byEvent = make(map[string]map[string]*outcomeCounters, len(events))
	m.byProvider = make(map[string]*outcomeObservers, len(events))
	for provider, names := range events {
		m.byEvent[provider] = make(map[string]*outcomeCounters, len(names))
		for _, name := range names {
			var cs outcomeCounters
			for o := range numOutcomes {
				cs[o] = m.deliveries.WithLabelValues(provider, name, outcomeNames[o])
			}
			m.byEvent[provider][name] = &cs
		}
		var obs outcomeObservers
		for o := range numOutcomes {
			obs[o] = m.duration.WithLabelValues(provider, outcomeNames[o])
		}
		m.byProvider[provider] = &obs
	}
	if buffered != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "leadbridge_ingest_buffered_bytes",
			Help: "Bytes of events buffered in the producer, waiting for the broker's ack.",
		}, buffered))
	}
	return m
}

// validUnknownLabel: a name of Aurora's form other than "other" itself.
func validUnknownLabel(name string) bool {
	return name != "other" && schema.ValidAuroraEventName(name)
}
