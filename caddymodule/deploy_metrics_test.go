package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/freeport"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
)

// The shipped Grafana dashboard and Prometheus alerts query only metrics
// the gateway exports: every restcomm_gateway_* and caddy_* name of every
// PromQL expression, and every label a selector names with its value,
// exists in the registry of a running gateway config (Caddy's HTTP metrics
// on, as the top-level Caddyfile has them; the mirror's collectors as a
// config with a mirror registers them).
func TestDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	known := exportedSeries(t)
	exprs := dashboardExprs(t, "../deploy/grafana/restcomm-gateway.json")
	require.GreaterOrEqual(t, len(exprs), 20, "the dashboard's panels")
	alerts := alertExprs(t, "../deploy/prometheus/alerts.yml")
	require.GreaterOrEqual(t, len(alerts), 10, "the alerting rules")
	for where, expr := range alerts {
		exprs["alerts.yml: "+where] = expr
	}
	for where, expr := range exprs {
		for _, problem := range checkExpr(expr, known) {
			t.Errorf("%s: %s\n\t%s", where, problem, expr)
		}
	}
}

// The check fails on a misspelt name, an unknown label and an unknown
// value: it can fail.
func TestCheckExprFindsMisspeltNames(t *testing.T) {
	known := map[string]*family{"restcomm_gateway_ready": {labels: map[string][]string{}},
		"restcomm_gateway_throttle_blocks_total": {labels: map[string][]string{"reason": {"ip"}}}}
	assert.Empty(t, checkExpr(`sum(rate(restcomm_gateway_throttle_blocks_total{reason="ip",instance=~"$instance"}[5m])) and restcomm_gateway_ready`, known))
	assert.Len(t, checkExpr(`restcomm_gateway_redy == 0`, known), 1)
	assert.Len(t, checkExpr(`rate(restcomm_gateway_throttle_blocks_total{raeson="ip"}[5m])`, known), 1)
	assert.Len(t, checkExpr(`rate(restcomm_gateway_throttle_blocks_total{reason="account"}[5m])`, known), 1)
}

// family is what a gathered metric family offers a query: its series'
// labels with their values.
type family struct {
	labels map[string][]string
}

// exportedSeries starts a gateway config, sends it traffic of every kind
// and records an import run of each result, and returns every name a
// query may use, histograms' _bucket, _sum and _count included.
func exportedSeries(t *testing.T) map[string]*family {
	t.Helper()
	rd := redistest.Start(t)
	st := store.New(rd.Client(t), "")
	fixture.Load(t, st)
	ctx := context.Background()
	for i, result := range store.ImportResults {
		require.NoError(t, st.RecordImportRun(ctx, store.ImportRun{Result: result, At: time.Unix(int64(1_800_000_000+i), 0)}))
	}
	dir := startMetricsCaddy(t) // metrics_test.go
	gw := loadMetricsConfig(t, dir, freeport.Addr(t), restcommHandler(rd.URL(), "", nil))
	self := gw.sites[0] + fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin
	require.Equal(t, http.StatusOK, metricsGet(t, self, "ADMIN"))
	require.Equal(t, http.StatusUnauthorized, metricsGet(t, self, ""))
	require.Eventually(t, func() bool { return gauge(t, "restcomm_gateway_account_cache_trusted") >= 0 }, 10*time.Second, 10*time.Millisecond)

	mirrorReg := prometheus.NewPedanticRegistry()
	require.NoError(t, registerAll(mirrorReg, gatewayMetrics().mirror.Collectors()...))
	active := caddy.ActiveContext()
	families, err := prometheus.Gatherers{active.GetMetricsRegistry(), mirrorReg}.Gather()
	require.NoError(t, err)
	known := map[string]*family{}
	add := func(name string, s *dto.Metric, extra ...string) {
		f := known[name]
		if f == nil {
			f = &family{labels: map[string][]string{}}
			known[name] = f
		}
		for _, l := range s.GetLabel() {
			if !slices.Contains(f.labels[l.GetName()], l.GetValue()) {
				f.labels[l.GetName()] = append(f.labels[l.GetName()], l.GetValue())
			}
		}
		for _, l := range extra {
			if _, ok := f.labels[l]; !ok {
				f.labels[l] = nil
			}
		}
	}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				add(f.GetName()+"_bucket", s, "le")
				add(f.GetName()+"_sum", s)
				add(f.GetName()+"_count", s)
			case dto.MetricType_SUMMARY:
				add(f.GetName(), s, "quantile")
				add(f.GetName()+"_sum", s)
				add(f.GetName()+"_count", s)
			default:
				add(f.GetName(), s)
			}
		}
	}
	require.Contains(t, known, "caddy_http_request_duration_seconds_bucket", "Caddy's HTTP metrics")
	require.Contains(t, known, "restcomm_gateway_mirror_backlog")
	return known
}

// targetLabels are those Prometheus adds to every series it scrapes.
var targetLabels = []string{"instance", "job"}

var (
	metricName = regexp.MustCompile(`\b(?:restcomm_gateway|caddy)_[A-Za-z0-9_]+`)
	matcher    = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
)

// checkExpr lists what expr names that known lacks: metric names, the
// labels of their selectors, and the values an equality matcher asks for
// (a value with a dashboard variable, $…, is not checked).
func checkExpr(expr string, known map[string]*family) []string {
	var problems []string
	for _, loc := range metricName.FindAllStringIndex(expr, -1) {
		name := expr[loc[0]:loc[1]]
		f, ok := known[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: no such metric", name))
			continue
		}
		rest := expr[loc[1]:]
		if !strings.HasPrefix(rest, "{") {
			continue
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			problems = append(problems, fmt.Sprintf("%s: selector not closed", name))
			continue
		}
		for _, m := range matcher.FindAllStringSubmatch(rest[1:end], -1) {
			label, op, value := m[1], m[2], m[3]
			if slices.Contains(targetLabels, label) {
				continue
			}
			values, ok := f.labels[label]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s: no label %s", name, label))
			case op == "=" && !strings.Contains(value, "$") && !slices.Contains(values, value):
				problems = append(problems, fmt.Sprintf("%s: label %s has no value %q (has %q)", name, label, value, values))
			}
		}
	}
	return problems
}

// dashboardExprs are the PromQL expressions of a Grafana dashboard: its
// panels' targets (rows' panels too) and its query variables, by where
// they are.
func dashboardExprs(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var dash struct {
		Inputs []struct {
			Name, PluginID string
		} `json:"__inputs"`
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name, Type string
				Query      json.RawMessage
			}
		}
	}
	require.NoError(t, json.Unmarshal(raw, &dash), path)
	exprs := map[string]string{}
	var walk func(raw []json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, p := range raw {
			var panel struct {
				Title      string
				Type       string
				Datasource struct{ UID string }
				Targets    []struct{ Expr, RefID string }
				Panels     []json.RawMessage
			}
			require.NoError(t, json.Unmarshal(p, &panel))
			walk(panel.Panels)
			if panel.Type == "row" {
				continue
			}
			assert.Equal(t, "${DS_PROMETHEUS}", panel.Datasource.UID, "panel %q: the data source is the dashboard's variable", panel.Title)
			assert.NotEmpty(t, panel.Targets, "panel %q", panel.Title)
			for _, tg := range panel.Targets {
				require.NotEmpty(t, tg.Expr, "panel %q target %s", panel.Title, tg.RefID)
				exprs[fmt.Sprintf("panel %q %s", panel.Title, tg.RefID)] = tg.Expr
			}
		}
	}
	walk(dash.Panels)
	var hasDS bool
	for _, v := range dash.Templating.List {
		switch v.Type {
		case "datasource":
			hasDS = hasDS || v.Name == "DS_PROMETHEUS"
		case "query":
			var q struct{ Query string }
			if json.Unmarshal(v.Query, &q) != nil {
				_ = json.Unmarshal(v.Query, &q.Query)
			}
			require.NotEmpty(t, q.Query, "variable %s", v.Name)
			exprs["variable "+v.Name] = q.Query
		}
	}
	assert.True(t, hasDS, "a DS_PROMETHEUS data source variable")
	return exprs
}

// alertExprs are the expressions of a Prometheus rules file, by alert.
func alertExprs(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert, Record, Expr, For string
				Labels                   map[string]string
				Annotations              map[string]string
			}
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&rules), path)
	exprs := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert, "group %s: every rule is an alert", g.Name)
			require.NotEmpty(t, r.Expr, r.Alert)
			assert.NotEmpty(t, r.Labels["severity"], "%s: a severity", r.Alert)
			assert.NotEmpty(t, r.Annotations["summary"], "%s: a summary", r.Alert)
			if r.For != "" {
				_, err := time.ParseDuration(r.For)
				assert.NoError(t, err, "%s: for", r.Alert)
			}
			require.NotContains(t, exprs, r.Alert, "alert names are unique")
			exprs[r.Alert] = r.Expr
		}
	}
	return exprs
}
