package caddymodule

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	gwmetrics "github.com/restcomm/restcomm-gateway/internal/metrics"
	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/freeport"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
	"github.com/restcomm/restcomm-gateway/store"
)

// These tests run real Caddy configs with the admin API, as a deployment
// does, and read the metrics as Prometheus would: the admin API's
// /metrics, or the running config's registry. They do not call t.Parallel:
// the gateway's collectors are the process's, and run alone (before the
// package's parallel tests) these tests can count exactly.

// metricsGateway is a running config: its sites' and admin API's base URLs.
type metricsGateway struct {
	sites []string
	admin string
}

// restcommHandler is a restcomm handler's JSON over the Redis at url, with
// a Redis timeout ("" for the default) and other fields.
func restcommHandler(url, timeout string, extra map[string]any) map[string]any {
	redis := map[string]any{"urls": []string{url}}
	if timeout != "" {
		redis["timeout"] = timeout
	}
	h := map[string]any{"handler": "restcomm", "redis": redis}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

// loadMetricsConfig loads a config with the admin API on admin, Caddy's HTTP
// metrics as the shipped Caddyfile turns them on, and one server per entry
// of handlers, each on its own free port, running its restcomm handler then
// a static 418.
func loadMetricsConfig(t *testing.T, dir, admin string, handlers ...map[string]any) *metricsGateway {
	t.Helper()
	gw := &metricsGateway{admin: "http://" + admin}
	servers := map[string]any{}
	for i, h := range handlers {
		addr := freeport.Addr(t)
		gw.sites = append(gw.sites, "http://"+addr)
		servers["gw"+strconv.Itoa(i)] = map[string]any{
			"listen":          []string{addr},
			"automatic_https": map[string]any{"disable": true},
			"routes": []any{map[string]any{"handle": []any{h,
				map[string]any{"handler": "static_response", "status_code": 418}}}},
		}
	}
	cfg := map[string]any{
		"admin":   map[string]any{"listen": admin, "config": map[string]any{"persist": false}},
		"storage": map[string]any{"module": "file_system", "root": dir},
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "ERROR"}}},
		"apps": map[string]any{"http": map[string]any{
			"metrics": shippedMetricsOption(t),
			"servers": servers,
		}},
	}
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, caddy.Load(raw, true))
	return gw
}

// startMetricsCaddy takes the process's Caddy for the test.
func startMetricsCaddy(t *testing.T) (dir string) {
	t.Helper()
	caddyMu.Lock()
	t.Cleanup(caddyMu.Unlock)
	dir = t.TempDir()
	t.Setenv("XDG_DATA_HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Cleanup(func() { _ = caddy.Stop() })
	return dir
}

// shippedMetricsOption is the http app's metrics as the top-level
// Caddyfile's `metrics` global option adapts: the tests measure what ships.
func shippedMetricsOption(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../Caddyfile")
	require.NoError(t, err)
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(raw, map[string]any{"filename": "Caddyfile"})
	require.NoError(t, err)
	var cfg struct {
		Apps struct {
			HTTP struct {
				Metrics map[string]any `json:"metrics"`
			} `json:"http"`
		} `json:"apps"`
	}
	require.NoError(t, json.Unmarshal(out, &cfg))
	require.NotNil(t, cfg.Apps.HTTP.Metrics, "the top-level Caddyfile turns Caddy's HTTP metrics on (the metrics global option)")
	return cfg.Apps.HTTP.Metrics
}

// get sends a GET with the fixture caller's credentials (none for "").
func metricsGet(t *testing.T, url, as string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if as != "" {
		req.Header.Set("Authorization", fixture.Basic(fixture.Users[as], fixture.Token))
	}
	return send(t, req)
}

func send(t *testing.T, req *http.Request) int {
	t.Helper()
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// scrape reads the admin API's /metrics: each series, as its exposition
// line names it, with its value.
func scrape(t *testing.T, gw *metricsGateway) map[string]float64 {
	t.Helper()
	res, err := (&http.Client{Timeout: 10 * time.Second}).Get(gw.admin + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	series := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		series[line[:i]] = v
	}
	require.NoError(t, sc.Err())
	return series
}

const allowedSeries = `restcomm_gateway_policy_decisions_total{result="allow",status="none"}`

// A `caddy reload` that changes the config, here the Redis timeout and a
// second site with a restcomm handler of its own, keeps the gateway's
// counts: its collectors are the process's, registered in each config's
// registry (they started again at zero before). Both handlers of the new
// config count into the one set.
func TestMetricsSurviveAConfigChangingReload(t *testing.T) {
	rd := redistest.Start(t)
	fixture.Load(t, store.New(rd.Client(t), ""))
	dir := startMetricsCaddy(t)
	admin := freeport.Addr(t)
	gw := loadMetricsConfig(t, dir, admin, restcommHandler(rd.URL(), "1s", nil))
	self := fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin
	for range 3 {
		require.Equal(t, http.StatusOK, metricsGet(t, gw.sites[0]+self, "ADMIN"))
	}
	require.Equal(t, http.StatusUnauthorized, metricsGet(t, gw.sites[0]+self, ""))
	before := scrape(t, gw)
	require.GreaterOrEqual(t, before[allowedSeries], 3.0)
	require.Positive(t, before[`caddy_http_requests_total{handler="restcomm",server="gw0"}`],
		"Caddy's HTTP metrics are on")

	gw = loadMetricsConfig(t, dir, admin,
		restcommHandler(rd.URL(), "900ms", nil),
		restcommHandler(rd.URL(), "", map[string]any{"health_path": "/second"}))
	after := scrape(t, gw)
	for _, s := range []string{allowedSeries, `restcomm_gateway_policy_decisions_total{result="deny",status="401"}`} {
		assert.Equal(t, before[s], after[s], "%s across the reload", s)
	}
	redisTrips := `restcomm_gateway_redis_command_duration_seconds_count{client="service"}` // the cache's heartbeats go on
	assert.GreaterOrEqual(t, after[redisTrips], before[redisTrips], "%s across the reload", redisTrips)
	require.Equal(t, http.StatusOK, metricsGet(t, gw.sites[0]+self, "ADMIN"))
	require.Equal(t, http.StatusOK, metricsGet(t, gw.sites[1]+self, "ADMIN"))
	assert.Equal(t, before[allowedSeries]+2, scrape(t, gw)[allowedSeries], "both handlers count into the one set")
}

// Traffic of every kind, then every restcomm_gateway_* series of the
// running config's registry has a value for each of its labels, and each
// metric counted what it should: throttle blocks by reason, 503s for the
// store, cache hits and trust, readiness, the last import.
func TestGatewayMetricsAfterTraffic(t *testing.T) {
	rd := redistest.Start(t)
	st := store.New(rd.Client(t), "")
	fixture.Load(t, st)
	m := gatewayMetrics()
	dir := startMetricsCaddy(t)
	gw := loadMetricsConfig(t, dir, freeport.Addr(t), restcommHandler(rd.URL(), "", nil))
	site := gw.sites[0]
	self := site + fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin
	counter := func(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }
	blocks := m.throttled.WithLabelValues("login_ip")
	unavailable := m.storeUnavailable.WithLabelValues("redis")
	hits, misses := m.cacheLookups.WithLabelValues("hit"), m.cacheLookups.WithLabelValues("miss")
	blocksBefore, unavailableBefore, hitsBefore, missesBefore := counter(blocks), counter(unavailable), counter(hits), counter(misses)

	// the account cache: read once from Redis, then from memory once trusted
	require.Equal(t, http.StatusOK, metricsGet(t, self, "ADMIN"))
	assert.Greater(t, counter(misses), missesBefore)
	require.Eventually(t, func() bool {
		return metricsGet(t, self, "ADMIN") == http.StatusOK && counter(hits) > hitsBefore
	}, 10*time.Second, 10*time.Millisecond, "a lookup answered from memory")
	require.Eventually(t, func() bool { return gauge(t, "restcomm_gateway_account_cache_trusted") == 1 },
		10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return gauge(t, "restcomm_gateway_ready") == 1 }, 10*time.Second, 10*time.Millisecond)

	// the throttle: login_ip_max_failures (10) wrong passwords, then a block
	wrong, err := http.NewRequest(http.MethodGet, self, nil)
	require.NoError(t, err)
	wrong.Header.Set("Authorization", fixture.Basic(fixture.SidDev, "wrong"))
	for range 10 {
		require.Equal(t, http.StatusUnauthorized, send(t, wrong))
	}
	assert.Equal(t, blocksBefore, counter(blocks))
	require.Equal(t, http.StatusTooManyRequests, send(t, wrong))
	assert.Equal(t, blocksBefore+1, counter(blocks))

	// an import run recorded in the namespace, shown at the next scrape
	at := time.Unix(1_800_000_000, 0)
	require.NoError(t, st.RecordImportRun(context.Background(), store.ImportRun{Result: store.ImportSucceeded, At: at, Accounts: 7}))
	assert.Equal(t, float64(at.Unix()), gauge(t, "restcomm_gateway_import_last_run_timestamp_seconds", "result", "success"))
	assert.Equal(t, 7.0, gauge(t, "restcomm_gateway_import_last_run_accounts", "result", "success"))

	// Redis gone: 503 for the store, not ready; the import run read last
	// is still shown
	rd.Stop()
	assert.Equal(t, http.StatusServiceUnavailable, metricsGet(t, site+fixture.APIRoot+"/Accounts.json/"+fixture.SidDev, "DEV"))
	assert.Equal(t, unavailableBefore+1, counter(unavailable))
	assert.Equal(t, 0.0, gauge(t, "restcomm_gateway_ready"))
	assert.Equal(t, float64(at.Unix()), gauge(t, "restcomm_gateway_import_last_run_timestamp_seconds", "result", "success"))

	// every series has a value for every label, the mirror's too
	mirrorReg := prometheus.NewPedanticRegistry()
	require.NoError(t, registerAll(mirrorReg, m.mirror.Collectors()...))
	active := caddy.ActiveContext()
	families, err := prometheus.Gatherers{active.GetMetricsRegistry(), mirrorReg}.Gather()
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "restcomm_gateway_") {
			continue
		}
		seen[f.GetName()] = true
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				assert.NotEmpty(t, l.GetValue(), "%s: label %s has no value", f.GetName(), l.GetName())
			}
		}
	}
	for _, name := range []string{
		"restcomm_gateway_policy_decisions_total", "restcomm_gateway_policy_decision_duration_seconds",
		"restcomm_gateway_policy_reloads_total", "restcomm_gateway_account_cache_feed_lost_total",
		"restcomm_gateway_account_cache_lookups_total", "restcomm_gateway_account_cache_trusted",
		"restcomm_gateway_account_store_unavailable_total", "restcomm_gateway_throttle_blocks_total",
		"restcomm_gateway_redis_command_duration_seconds", "restcomm_gateway_redis_errors_total",
		"restcomm_gateway_ready", "restcomm_gateway_import_last_run_timestamp_seconds",
		"restcomm_gateway_import_last_run_accounts", "restcomm_gateway_build_info",
		"restcomm_gateway_mirror_backlog", "restcomm_gateway_mirror_dead_lettered_total",
	} {
		assert.True(t, seen[name], "%s gathered", name)
	}
}

// gauge is the value of the running config's series name{labels}; -1 when
// it has none.
func gauge(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	active := caddy.ActiveContext()
	families, err := active.GetMetricsRegistry().Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			if hasLabels(s, labels...) {
				return s.GetGauge().GetValue()
			}
		}
	}
	return -1
}

func hasLabels(s *dto.Metric, pairs ...string) bool {
	want := map[string]string{}
	for i := 0; i+1 < len(pairs); i += 2 {
		want[pairs[i]] = pairs[i+1]
	}
	for _, l := range s.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
			return false
		}
		delete(want, l.GetName())
	}
	return len(want) == 0
}

// The Redis hook times every round trip and counts failures by kind,
// never a key not found nor a script not loaded yet.
func TestRedisHookCountsErrorsByKind(t *testing.T) {
	rd := redistest.Start(t)
	m := makeMetrics() // a set of its own: the counts are this test's alone
	c := redis.NewClient(&redis.Options{Addr: rd.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	c.AddHook(m.redisHook(redisClientService))
	ctx := context.Background()
	errs := func(kind string) float64 {
		return testutil.ToFloat64(m.redis.Errors.WithLabelValues(redisClientService, kind))
	}
	total := func() float64 {
		var n float64
		for _, k := range gwmetrics.RedisErrorKinds {
			n += errs(k)
		}
		return n
	}
	trips := func() uint64 {
		var out dto.Metric
		require.NoError(t, m.redis.Seconds.WithLabelValues(redisClientService).(prometheus.Histogram).Write(&out))
		return out.GetHistogram().GetSampleCount()
	}

	require.NoError(t, c.Ping(ctx).Err())
	assert.ErrorIs(t, c.Get(ctx, "absent").Err(), redis.Nil)
	assert.True(t, redis.HasErrorPrefix(c.EvalSha(ctx, strings.Repeat("0", 40), nil).Err(), "NOSCRIPT"))
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, "absent")
		p.Set(ctx, "present", "1", 0)
		return nil
	})
	assert.ErrorIs(t, err, redis.Nil)
	assert.Equal(t, uint64(4), trips(), "a pipeline is one round trip")
	assert.Zero(t, total(), "none of these is an error")

	assert.Error(t, c.Do(ctx, "NO-SUCH-COMMAND").Err())
	assert.Equal(t, 1.0, errs("server"))

	// a paused Redis does not answer within the caller's deadline
	pauser := rd.Client(t)
	require.NoError(t, pauser.Do(ctx, "CLIENT", "PAUSE", "2000", "ALL").Err())
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	assert.Error(t, c.Get(short, "present").Err())
	cancel()
	assert.Equal(t, 1.0, errs("timeout"))
	require.NoError(t, pauser.Do(ctx, "CLIENT", "UNPAUSE").Err())

	gone, cancel := context.WithCancel(ctx)
	cancel()
	assert.Error(t, c.Get(gone, "present").Err())
	assert.Equal(t, 1.0, errs("canceled"))

	rd.Stop()
	assert.Error(t, c.Get(ctx, "present").Err())
	assert.Equal(t, 1.0, errs("connection"))
	assert.Equal(t, 4.0, total())
	assert.Equal(t, uint64(8), trips())
}

// `accounts import` records its last run per result in the namespace;
// a dry run records nothing.
func TestAccountsImportRecordsItsRuns(t *testing.T) {
	rd := redistest.Start(t)
	st := store.New(rd.Client(t), "m")
	ctx := context.Background()
	script := filepath.Join(t.TempDir(), "restcomm.script")
	require.NoError(t, os.WriteFile(script, []byte(restcommtest.Generate(20, false).Script()), 0o600))

	_, err := runAccounts(t, "import", "--from", script, "--redis", rd.URL(), "--key-prefix", "m", "--dry-run")
	require.NoError(t, err)
	runs, err := st.ImportRuns(ctx)
	require.NoError(t, err)
	assert.Empty(t, runs, "a dry run is not recorded")

	start := time.Now().Truncate(time.Second)
	_, err = runAccounts(t, "import", "--from", script, "--redis", rd.URL(), "--key-prefix", "m")
	require.NoError(t, err)
	_, err = runAccounts(t, "import", "--from", filepath.Join(t.TempDir(), "missing.script"), "--redis", rd.URL(), "--key-prefix", "m")
	require.Error(t, err)
	runs, err = st.ImportRuns(ctx)
	require.NoError(t, err)
	require.Len(t, runs, 2)
	assert.Equal(t, store.ImportSucceeded, runs[0].Result)
	assert.Positive(t, runs[0].Accounts)
	assert.False(t, runs[0].At.Before(start))
	assert.Equal(t, store.ImportFailed, runs[1].Result)
	assert.Zero(t, runs[1].Accounts)
	assert.False(t, runs[1].At.Before(runs[0].At))
}
