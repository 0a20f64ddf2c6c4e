package policybundle

import (
	"cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports the status of every live Source when scraped. Sources
// are process-wide, like the engines that own them, so one collector,
// registered in each config's registry, reads them all; a source listed twice
// under one label set (a config reload under way) is exported once.
type Collector struct{}

var (
	bundleInfoDesc = prometheus.NewDesc(metricsNamespaceBundle+"info",
		"The policy bundle in force: its revision (the manifest's, then the content's digest); "+
			"\"none\" before any bundle is activated.",
		[]string{"bundle", "revision"}, nil)
	bundleActivationsDesc = prometheus.NewDesc(metricsNamespaceBundle+"activations_total",
		"Policy bundles by result: activated, or refused (verification, size or format, compile, "+
			"overlay rules or its own tests failed; the last good policy stays in force). "+
			"A bundle refused again for the same reason counts once.",
		[]string{"bundle", "result"}, nil)
	bundleLastActivationDesc = prometheus.NewDesc(metricsNamespaceBundle+"last_activation_timestamp_seconds",
		"When a policy bundle was last activated or refused, by result.",
		[]string{"bundle", "result"}, nil)
	bundleLastDownloadDesc = prometheus.NewDesc(metricsNamespaceBundle+"last_download_timestamp_seconds",
		"When the policy bundle's service last answered, or failed to.",
		[]string{"bundle"}, nil)
	bundleLastDownloadStatusDesc = prometheus.NewDesc(metricsNamespaceBundle+"last_download_status",
		"The HTTP status of the last request for the policy bundle: 200 a bundle, 304 unchanged; "+
			"0 when no answer came.",
		[]string{"bundle"}, nil)
	bundlePendingRefusalsDesc = prometheus.NewDesc(metricsNamespaceBundle+"pending_refusals_total",
		"Requests answered 503 because no policy bundle was activated yet (on_missing deny).",
		[]string{"bundle"}, nil)
)

const metricsNamespaceBundle = "restcomm_gateway_policy_bundle_"

func (Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{bundleInfoDesc, bundleActivationsDesc, bundleLastActivationDesc,
		bundleLastDownloadDesc, bundleLastDownloadStatusDesc, bundlePendingRefusalsDesc} {
		ch <- d
	}
}

func (Collector) Collect(ch chan<- prometheus.Metric) {
	list := Live()
	seen := map[string]bool{}
	for _, s := range list {
		if seen[s.name] {
			continue
		}
		seen[s.name] = true
		st, counts := s.Snapshot()
		ch <- prometheus.MustNewConstMetric(bundleInfoDesc, prometheus.GaugeValue, 1, s.name,
			cmp.Or(st.ActiveRevision, "none")) // no empty label values
		for _, result := range []string{Activated, Refused} {
			ch <- prometheus.MustNewConstMetric(bundleActivationsDesc, prometheus.CounterValue,
				float64(counts[result]), s.name, result)
		}
		for result, e := range map[string]*Event{Activated: st.LastActivation, Refused: st.LastRefusal} {
			if e != nil {
				ch <- prometheus.MustNewConstMetric(bundleLastActivationDesc, prometheus.GaugeValue,
					float64(e.At.UnixNano())/1e9, s.name, result)
			}
		}
		if d := st.LastDownload; d != nil {
			ch <- prometheus.MustNewConstMetric(bundleLastDownloadDesc, prometheus.GaugeValue,
				float64(d.At.UnixNano())/1e9, s.name)
			ch <- prometheus.MustNewConstMetric(bundleLastDownloadStatusDesc, prometheus.GaugeValue,
				float64(d.Status), s.name)
		}
		ch <- prometheus.MustNewConstMetric(bundlePendingRefusalsDesc, prometheus.CounterValue,
			float64(s.pendingRefusals.Load()), s.name)
	}
}
