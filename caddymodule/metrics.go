package caddymodule

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/restcomm/restcomm-gateway/internal/accountsapi"
	gwmetrics "github.com/restcomm/restcomm-gateway/internal/metrics"
	"github.com/restcomm/restcomm-gateway/internal/version"
	"github.com/restcomm/restcomm-gateway/policy"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/mirror"
)

// metrics are the gateway's own collectors, on top of Caddy's HTTP
// metrics. They are made once per process (gatewayMetrics), like the
// pooled Redis client, account cache and mirror worker whose work they
// count, and every config registers the same collectors in its own
// registry (Caddy gives each config one, which its admin API's /metrics
// serves): a `caddy reload`, whatever it changes, keeps every count.
// Several restcomm handlers, in one config or in successive ones, count
// into the one set.
type metrics struct {
	decisions        *prometheus.CounterVec
	allowed          prometheus.Counter
	decisionSeconds  prometheus.Histogram
	reloads          *prometheus.CounterVec
	feedLost         prometheus.Counter // the account cache's (accountcache.go)
	cacheLookups     *prometheus.CounterVec
	cacheTrusted     prometheus.Collector
	storeUnavailable *prometheus.CounterVec
	throttled        *prometheus.CounterVec
	redis            *gwmetrics.Redis
	ready            prometheus.Collector
	imports          prometheus.Collector
	buildInfo        *prometheus.GaugeVec
	// mirror is the mirror worker's, registered only in the configs that
	// have a mirror (mirror.go); ReadYourWrites counts there.
	mirror *mirror.Metrics
}

const metricsNamespace = "restcomm_gateway"

// Label values of decisions_total's status for an allowed request: it has
// no refusal status.
const statusNone = "none"

// The client label of the Redis metrics: the handler's client (requests,
// probes, the account cache's feed and heartbeats), or the mirror
// worker's own.
const (
	redisClientService = "service"
	redisClientMirror  = "mirror"
)

var process struct {
	once    sync.Once
	metrics *metrics
}

// gatewayMetrics returns the process's collectors, made on first use.
func gatewayMetrics() *metrics {
	process.once.Do(func() { process.metrics = makeMetrics() })
	return process.metrics
}

// newMetrics returns the process's collectors, registered in reg (the
// registry of the config being provisioned); those already there stay.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := gatewayMetrics()
	if err := registerAll(reg, m.collectors()...); err != nil {
		return nil, err
	}
	return m, nil
}

func makeMetrics() *metrics {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Subsystem: "policy",
			Name:      "decisions_total",
			Help: "Policy decisions by result: allow (status \"none\"); deny, with the status the policy chose; " +
				"error, denied with 403 because the policy gave no valid decision.",
		}, []string{"result", "status"}),
		decisionSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace,
			Subsystem: "policy",
			Name:      "decision_duration_seconds",
			Help:      "Time to decide a request, remembered decisions included.",
			Buckets:   []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2},
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Subsystem: "policy",
			Name:      "reloads_total",
			Help: "Edits of a policy directory by result: loaded, or refused (it did not compile " +
				"or its tests failed; the last good policy stays in force).",
		}, []string{"result"}),
		feedLost: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Subsystem: "account_cache",
			Name:      "feed_lost_total",
			Help: "Times the account cache lost its change feed (a broken or silent subscription); " +
				"until subscribed again, moments later as a rule, requests read Redis.",
		}),
		cacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Subsystem: "account_cache",
			Name:      "lookups_total",
			Help: "Requests' account lookups by result: hit, answered from the account cache's memory; " +
				"miss, read from Redis (not cached yet, or the cache not trusted then).",
		}, []string{"result"}),
		cacheTrusted: newCacheTrustedCollector(),
		storeUnavailable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Subsystem: "account_store",
			Name:      "unavailable_total",
			Help: "Requests answered 503 because the account store failed, by reason: redis (Redis failed or did not " +
				"answer within redis_timeout), not_replicated (fewer replicas than wait_replicas acknowledged), stale " +
				"(the caller kept changing under the decision), lost_data, not_initialized (never seeded, seeding off), " +
				"restcomm_database (the mirror's database could not check a create).",
		}, []string{"reason"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Subsystem: "throttle",
			Name:      "blocks_total",
			Help: "Requests refused by the failed-login throttle, by reason: login_ip (one login from one client " +
				"network reached login_ip_max_failures, 429), ip (the client network reached ip_max_failures, 429), " +
				"policy (the policy answered 429 on the counts for a reason of its own), store_unavailable " +
				"(a failed login could not be counted in Redis: 503).",
		}, []string{"reason"}),
		redis:   gwmetrics.NewRedis(metricsNamespace, redisClientService, redisClientMirror),
		ready:   newReadyCollector(),
		imports: newImportCollector(),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: metricsNamespace,
			Name:      "build_info",
			Help: "1, labelled with the gateway's version and the commit it was built from " +
				"(\"+modified\" with uncommitted changes, \"unknown\" when the build recorded none).",
		}, []string{"version", "commit"}),
		mirror: mirror.NewMetrics(),
	}
	v := version.Get()
	m.buildInfo.WithLabelValues(v.Version, v.Revision()).Set(1)
	m.allowed = m.decisions.WithLabelValues("allow", statusNone)
	// Every bounded label value exists from the start, at zero.
	m.reloads.WithLabelValues("loaded")
	m.reloads.WithLabelValues("refused")
	m.cacheLookups.WithLabelValues("hit")
	m.cacheLookups.WithLabelValues("miss")
	for _, r := range accountsapi.UnavailableReasons {
		m.storeUnavailable.WithLabelValues(r)
	}
	for _, r := range accountsapi.ThrottleReasons {
		m.throttled.WithLabelValues(r)
	}
	return m
}

// collectors are those every config registers; the mirror's are
// registered by the configs with a mirror.
func (m *metrics) collectors() []prometheus.Collector {
	return append([]prometheus.Collector{m.decisions, m.decisionSeconds, m.reloads, m.feedLost, m.cacheLookups,
		m.cacheTrusted, m.storeUnavailable, m.throttled, m.ready, m.imports, m.buildInfo},
		m.redis.Collectors()...)
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

// StoreUnavailable counts a 503 for the account store (accountsapi.Metrics).
func (m *metrics) StoreUnavailable(reason string) { m.storeUnavailable.WithLabelValues(reason).Inc() }

// Throttled counts a request the throttle refused (accountsapi.Metrics).
func (m *metrics) Throttled(reason string) { m.throttled.WithLabelValues(reason).Inc() }

// looked counts an account cache lookup (accountcache.go).
func (m *metrics) looked(hit bool) {
	if hit {
		m.cacheLookups.WithLabelValues("hit").Inc()
	} else {
		m.cacheLookups.WithLabelValues("miss").Inc()
	}
}

// reload feeds the reload metrics.
func (m *metrics) reload(err error) {
	if err != nil {
		m.reloads.WithLabelValues("refused").Inc()
		return
	}
	m.reloads.WithLabelValues("loaded").Inc()
}

// redisHook times every round trip of a Redis client labelled client,
// and counts its failures by kind.
func (m *metrics) redisHook(client string) redis.Hook { return m.redis.Hook(client) }

// cacheTrustedCollector is restcomm_gateway_account_cache_trusted: 1
// while every account cache in use is trusted (subscribed to the change
// feed and hearing the gateways' heartbeats), so requests may be answered
// from memory; 0 while any is not, and its requests read Redis. Nothing
// while no cache is in use (account_cache off, reads from replicas, or no
// request yet).
type cacheTrustedCollector struct {
	desc *prometheus.Desc
}

func newCacheTrustedCollector() *cacheTrustedCollector {
	return &cacheTrustedCollector{desc: prometheus.NewDesc(metricsNamespace+"_account_cache_trusted",
		"1 while the account cache is trusted (subscribed to the change feed, the gateways' heartbeats heard) "+
			"and requests may be answered from memory; 0 while requests read Redis. Absent with the cache off or before the first request.",
		nil, nil)}
}

func (c *cacheTrustedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *cacheTrustedCollector) Collect(ch chan<- prometheus.Metric) {
	v, any := 1.0, false
	for _, h := range liveCaches.list() {
		if !h.started.Load() { // no request has used it yet
			continue
		}
		any = true
		if !h.cache.Trusted() {
			v = 0
		}
	}
	if any {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v)
	}
}

// liveCaches are the pooled account caches, from their making to their
// Destruct.
var liveCaches caches

type caches struct {
	mu      sync.Mutex
	handles []*cacheHandle
}

func (c *caches) add(h *cacheHandle) {
	c.mu.Lock()
	c.handles = append(c.handles, h)
	c.mu.Unlock()
}

func (c *caches) remove(h *cacheHandle) {
	c.mu.Lock()
	c.handles = slices.DeleteFunc(c.handles, func(x *cacheHandle) bool { return x == h })
	c.mu.Unlock()
}

func (c *caches) list() []*cacheHandle {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.handles)
}

// readyScrapeBound bounds the readiness check a scrape makes: the handlers'
// own probes are bounded by redis_timeout, and answered from the last one
// when it is fresh (health.go).
const readyScrapeBound = 2 * time.Second

// readyCollector is restcomm_gateway_ready: the admin API's readiness
// (/restcomm/readyz), 1 or 0, at scrape time.
type readyCollector struct {
	desc *prometheus.Desc
}

func newReadyCollector() *readyCollector {
	return &readyCollector{desc: prometheus.NewDesc(metricsNamespace+"_ready",
		"1 while every restcomm handler of the running config is ready (Redis answers, the namespace is marked, "+
			"a policy is loaded: /restcomm/readyz answers 200), else 0.", nil, nil)}
}

func (c *readyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *readyCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), readyScrapeBound)
	defer cancel()
	v := 0.0
	if allReady(ctx).ok() { // health.go
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v)
}

// importScrapeBound bounds the read of the import runs a scrape makes;
// past it, the runs read last are shown.
const importScrapeBound = 500 * time.Millisecond

// importCollector shows the last runs of `accounts import` recorded in
// the namespaces of the running config's handlers (store.ImportRuns),
// read at scrape time: restcomm_gateway_import_last_run_timestamp_seconds
// and restcomm_gateway_import_last_run_accounts, by result. With handlers
// over several namespaces, each result's latest run among them.
type importCollector struct {
	at, accounts *prometheus.Desc
	mu           sync.Mutex
	last         map[string][]store.ImportRun // by namespace: what was read last
}

func newImportCollector() *importCollector {
	return &importCollector{
		at: prometheus.NewDesc(metricsNamespace+"_import_last_run_timestamp_seconds",
			"When the last `accounts import` into the gateway's namespace that ended with result (success, failure) "+
				"ended, in Unix seconds; absent for a result no run has had. Dry runs are not recorded.",
			[]string{"result"}, nil),
		accounts: prometheus.NewDesc(metricsNamespace+"_import_last_run_accounts",
			"Accounts written (created or updated) by the last `accounts import` that ended with result "+
				"(success, failure; 0 for a failure).",
			[]string{"result"}, nil),
		last: map[string][]store.ImportRun{},
	}
}

func (c *importCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.at
	ch <- c.accounts
}

func (c *importCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), importScrapeBound)
	defer cancel()
	latest := map[string]store.ImportRun{}
	seen := map[string]bool{}
	for _, g := range activeGateways() {
		ns := g.pool + "/" + g.store.Prefix()
		if seen[ns] {
			continue
		}
		seen[ns] = true
		for _, r := range c.read(ctx, ns, g) {
			if r.At.After(latest[r.Result].At) {
				latest[r.Result] = r
			}
		}
	}
	for _, result := range store.ImportResults {
		if r, ok := latest[result]; ok {
			ch <- prometheus.MustNewConstMetric(c.at, prometheus.GaugeValue, float64(r.At.Unix()), result)
			ch <- prometheus.MustNewConstMetric(c.accounts, prometheus.GaugeValue, float64(r.Accounts), result)
		}
	}
}

// read returns the runs recorded in g's namespace, or those read last
// when Redis does not answer within ctx.
func (c *importCollector) read(ctx context.Context, ns string, g *Gateway) []store.ImportRun {
	g.redis.hold()
	runs, err := g.store.ImportRuns(ctx)
	g.redis.release()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		return c.last[ns]
	}
	c.last[ns] = runs
	return runs
}
