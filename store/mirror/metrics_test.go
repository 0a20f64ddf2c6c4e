package mirror

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// Every kind of dead letter is exported from the start (a rule on a kind
// that never happened still finds its series), and a degraded one counts
// in the security metric too.
func TestMetricsNameEveryKind(t *testing.T) {
	m := NewMetrics()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.DeadLettered))
	require.NoError(t, reg.Register(m.SecurityDegraded))
	m.dead(kindDegraded)
	m.dead(kindConflict)
	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			name := f.GetName()
			for _, l := range s.GetLabel() {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			got[name] = s.GetCounter().GetValue()
		}
	}
	assert.Equal(t, map[string]float64{
		"restcomm_gateway_mirror_dead_lettered_total{kind=conflict}":   1,
		"restcomm_gateway_mirror_dead_lettered_total{kind=degraded}":   1,
		"restcomm_gateway_mirror_dead_lettered_total{kind=missing}":    0,
		"restcomm_gateway_mirror_dead_lettered_total{kind=refused}":    0,
		"restcomm_gateway_mirror_dead_lettered_total{kind=rejected}":   0,
		"restcomm_gateway_mirror_dead_lettered_total{kind=unsealable}": 0,
		"restcomm_gateway_mirror_security_degraded_total":              1,
	}, got)
}

// Workers that share the metrics, an old one stopping while a new one
// leads (a reload that changes the mirror), leave the worker gauge at 1
// while any of them leads.
func TestWorkerGaugeWhileAnyLeads(t *testing.T) {
	m := NewMetrics()
	gauge := func() float64 {
		var out dto.Metric
		require.NoError(t, m.Leader.Write(&out))
		return out.GetGauge().GetValue()
	}
	m.leader(true) // the old worker
	m.leader(true) // the new one
	m.leader(false)
	assert.Equal(t, 1.0, gauge(), "the new worker still leads")
	m.leader(false)
	assert.Equal(t, 0.0, gauge())
}
