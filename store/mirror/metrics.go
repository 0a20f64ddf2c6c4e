package mirror

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the mirror's Prometheus collectors, which several workers
// may share (one after the other, across a gateway's reloads). A nil
// *Metrics records nothing.
type Metrics struct {
	Backlog      prometheus.Gauge
	OldestAge    prometheus.Gauge
	Delivered    prometheus.Counter
	DeadLettered *prometheus.CounterVec
	// SecurityDegraded counts changes of status or password that reached
	// RestComm only in part (dead letters of kind degraded): alert on it.
	SecurityDegraded prometheus.Counter
	Latency          prometheus.Histogram
	Retries          prometheus.Counter
	Leader           prometheus.Gauge
	RYWWaits         *prometheus.CounterVec
	// leading counts the workers that hold the lease: a gateway keeps its
	// metrics across reloads, and a reload that changes the mirror starts
	// a new worker while the old one stops.
	leading atomic.Int64
}

// NewMetrics makes the collectors, named restcomm_gateway_mirror_*.
func NewMetrics() *Metrics {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "restcomm_gateway", Subsystem: "mirror", Name: name, Help: help}
	}
	m := &Metrics{
		Backlog: prometheus.NewGauge(prometheus.GaugeOpts(opts("backlog",
			"Account and organization changes not yet delivered to RestComm's database (the outbox's length)."))),
		OldestAge: prometheus.NewGauge(prometheus.GaugeOpts(opts("oldest_pending_age_seconds",
			"Age of the oldest change not yet delivered; 0 when none is."))),
		Delivered: prometheus.NewCounter(prometheus.CounterOpts(opts("delivered_total",
			"Changes this gateway delivered to RestComm's database (and RestComm's side effects)."))),
		DeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts(opts("dead_lettered_total",
			"Changes this gateway moved to the dead-letter stream, by kind: rejected (by RestComm's schema), "+
				"refused (by RestComm's API), unsealable (a password sealed under another secret_key), "+
				"conflict (a created account's SID is another account's row in RestComm: nothing written), "+
				"missing (an account's row is gone from RestComm: not inserted again), "+
				"degraded (see security_degraded_total).")), []string{"kind"}),
		SecurityDegraded: prometheus.NewCounter(prometheus.CounterOpts(opts("security_degraded_total",
			"Status or password changes whose full rows RestComm's database refused: only status, auth_token and "+
				"date_updated were written (and a close asked of RestComm), the other columns not; each is a dead letter."))),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "restcomm_gateway", Subsystem: "mirror",
			Name: "delivery_latency_seconds", Help: "From a change at the gateway to its delivery into RestComm.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}),
		Retries: prometheus.NewCounter(prometheus.CounterOpts(opts("retries_total",
			"Deliveries retried after a transient failure (database or RestComm down)."))),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts(opts("worker",
			"1 while this gateway holds the delivery lease (it delivers), else 0."))),
		RYWWaits: prometheus.NewCounterVec(prometheus.CounterOpts(opts("read_your_writes_waits_total",
			"Requests passed to RestComm that waited for their account's change, by outcome: delivered or timeout.")),
			[]string{"outcome"}),
	}
	for _, k := range DeadLetterKinds {
		m.DeadLettered.WithLabelValues(k)
	}
	m.RYWWaits.WithLabelValues("delivered")
	m.RYWWaits.WithLabelValues("timeout")
	return m
}

// Collectors lists them for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Backlog, m.OldestAge, m.Delivered, m.DeadLettered, m.SecurityDegraded, m.Latency,
		m.Retries, m.Leader, m.RYWWaits}
}

func (m *Metrics) delivered(at time.Time) {
	if m == nil {
		return
	}
	m.Delivered.Inc()
	if !at.IsZero() {
		m.Latency.Observe(time.Since(at).Seconds())
	}
}

func (m *Metrics) dead(kind string) {
	if m == nil {
		return
	}
	m.DeadLettered.WithLabelValues(kind).Inc()
	if kind == kindDegraded {
		m.SecurityDegraded.Inc()
	}
}

func (m *Metrics) retry() {
	if m != nil {
		m.Retries.Inc()
	}
}

func (m *Metrics) leader(on bool) {
	if m == nil {
		return
	}
	d := int64(-1)
	if on {
		d = 1
	}
	if m.leading.Add(d) > 0 {
		m.Leader.Set(1)
	} else {
		m.Leader.Set(0)
	}
}

func (m *Metrics) backlog(n int64, oldest time.Time) {
	if m == nil {
		return
	}
	m.Backlog.Set(float64(n))
	if oldest.IsZero() {
		m.OldestAge.Set(0)
	} else {
		m.OldestAge.Set(time.Since(oldest).Seconds())
	}
}

// ReadYourWrites records a request that waited for its account's change.
func (m *Metrics) ReadYourWrites(delivered bool) {
	if m == nil {
		return
	}
	if delivered {
		m.RYWWaits.WithLabelValues("delivered").Inc()
	} else {
		m.RYWWaits.WithLabelValues("timeout").Inc()
	}
}
