package caddymodule

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restcomm/restcomm-gateway/internal/version"
	"github.com/restcomm/restcomm-gateway/policy"
	"github.com/restcomm/restcomm-gateway/store/mirror"
)

// metrics are the gateway's own collectors, on top of Caddy's per-handler
// request metrics, in the registry of one config: Caddy gives every config
// a registry of its own, as its own modules register theirs (caddyhttp's
// request metrics). Several restcomm handlers of one config share one set:
// the first to register makes them, the others use those. A `caddy
// reload` starts them again at zero, as it does Caddy's.
type metrics struct {
	decisions       *prometheus.CounterVec
	allowed         prometheus.Counter
	decisionSeconds prometheus.Histogram
	reloads         *prometheus.CounterVec
	feedLost        prometheus.Counter // the account cache's (accountcache.go)
	// mirror is the mirror worker's, for the read-your-writes waits; nil
	// without a mirror (mirror.go).
	mirror *mirror.Metrics
}

// newMetrics makes the collectors of the config whose registry reg is, or
// takes those another handler of the config registered.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "restcomm_gateway",
			Subsystem: "policy",
			Name:      "decisions_total",
			Help: "Policy decisions by result: allow; deny, with the status the policy chose; " +
				"error, denied with 403 because the policy gave no valid decision.",
		}, []string{"result", "status"}),
		decisionSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "restcomm_gateway",
			Subsystem: "policy",
			Name:      "decision_duration_seconds",
			Help:      "Time to decide a request, remembered decisions included.",
			Buckets:   []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2},
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "restcomm_gateway",
			Subsystem: "policy",
			Name:      "reloads_total",
			Help: "Edits of a policy directory by result: loaded, or refused (it did not compile " +
				"or its tests failed; the last good policy stays in force).",
		}, []string{"result"}),
		feedLost: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "restcomm_gateway",
			Subsystem: "account_cache",
			Name:      "feed_lost_total",
			Help: "Times the account cache lost its change feed (a broken or silent subscription); " +
				"until subscribed again, moments later as a rule, requests read Redis.",
		}),
	}
	var err error
	if m.feedLost, err = register(reg, m.feedLost); err != nil {
		return nil, err
	}
	if m.decisions, err = register(reg, m.decisions); err != nil {
		return nil, err
	}
	if m.decisionSeconds, err = register(reg, m.decisionSeconds); err != nil {
		return nil, err
	}
	if m.reloads, err = register(reg, m.reloads); err != nil {
		return nil, err
	}
	buildInfo, err := register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "restcomm_gateway",
		Name:      "build_info",
		Help: "1, labelled with the gateway's version and the commit it was built from " +
			"(\"+modified\" with uncommitted changes, \"unknown\" when the build recorded none).",
	}, []string{"version", "commit"}))
	if err != nil {
		return nil, err
	}
	v := version.Get()
	buildInfo.WithLabelValues(v.Version, v.Revision()).Set(1)
	m.allowed = m.decisions.WithLabelValues("allow", "")
	// Both reload results exist from the start, at zero.
	m.reloads.WithLabelValues("loaded")
	m.reloads.WithLabelValues("refused")
	return m, nil
}

// register adds c to reg, or returns the collector of the same name
// already there.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err)
	if !ok {
		return c, err
	}
	existing, ok := are.ExistingCollector.(C)
	if !ok {
		return c, err
	}
	return existing, nil
}

// registerAll adds cs to reg; those already there stay as they are.
func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if _, err := register(reg, c); err != nil {
			return err
		}
	}
	return nil
}

// Decision feeds the decision metrics (accountsapi.Metrics).
func (m *metrics) Decision(d policy.Decision, err error, took time.Duration) {
	m.decisionSeconds.Observe(took.Seconds())
	switch {
	case err != nil:
		m.decisions.WithLabelValues("error", strconv.Itoa(d.Status)).Inc()
	case d.Allow:
		m.allowed.Inc()
	default:
		m.decisions.WithLabelValues("deny", strconv.Itoa(d.Status)).Inc()
	}
}

// ReadYourWrites counts a proxied request's wait for its account's pending
// change (accountsapi.Metrics).
func (m *metrics) ReadYourWrites(delivered bool) { m.mirror.ReadYourWrites(delivered) }

// reload feeds the reload metrics.
func (m *metrics) reload(err error) {
	if err != nil {
		m.reloads.WithLabelValues("refused").Inc()
		return
	}
	m.reloads.WithLabelValues("loaded").Inc()
}
