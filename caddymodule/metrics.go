package caddymodule

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// The gateway's own metrics, on top of Caddy's per-handler request
// metrics. They are package-level, so that counts carry over a `caddy
// reload`, and registered into each config's registry as it is
// provisioned: Caddy gives every config a new registry.
var (
	policyDecisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "restcomm_gateway",
		Subsystem: "policy",
		Name:      "decisions_total",
		Help: "Policy decisions by result: allow; deny, with the status the policy chose; " +
			"error, denied with 403 because the policy gave no valid decision.",
	}, []string{"result", "status"})

	policyAllowed = policyDecisions.WithLabelValues("allow", "")

	policyDecisionSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "restcomm_gateway",
		Subsystem: "policy",
		Name:      "decision_duration_seconds",
		Help:      "Time to decide a request, remembered decisions included.",
		Buckets:   []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2},
	})

	policyReloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "restcomm_gateway",
		Subsystem: "policy",
		Name:      "reloads_total",
		Help: "Edits of a policy directory by result: loaded, or refused (it did not compile " +
			"or its tests failed; the last good policy stays in force).",
	}, []string{"result"})
)

func init() {
	// Both reload results exist from the start, at zero.
	policyReloads.WithLabelValues("loaded")
	policyReloads.WithLabelValues("refused")
}

// registerMetrics adds the gateway's collectors to a config's registry.
// The same collectors are registered into every new registry; a registry
// that already has them is fine.
func registerMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{policyDecisions, policyDecisionSeconds, policyReloads} {
		if err := reg.Register(c); err != nil {
			if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); !ok {
				return err
			}
		}
	}
	return nil
}
