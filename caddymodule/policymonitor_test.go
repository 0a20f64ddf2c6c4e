package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/policy"
)

// developerProxyBlock is an overlay that refuses Developers every
// proxied request, with its test.
func developerProxyBlock(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "block.rego"), `package restcomm.overlay.block

deny contains {"status": 403, "message": "Developers may not"} if {
	input.operation == "proxy"
	input.caller.role == "Developer"
}
`)
	writeFile(t, filepath.Join(dir, "block_test.rego"), `package restcomm.block_test

import data.restcomm.authz.decision

test_developers_are_refused if {
	d := decision with input as {"operation": "proxy", "method": "GET", "path": "Accounts/ACdev/Calls.json", "request": {},
		"caller": {"sid": "ACdev", "role": "Developer", "status": "active", "organization_sid": "ORG0", "ancestors": []}}
	[d.allow, d.status] == [false, 403]
}
`)
	return dir
}

// observeMonitor sends the monitor's lines to an observer.
func observeMonitor(h *harness) *observer.ObservedLogs {
	h.t.Helper()
	require.NotNil(h.t, h.g.monitor, "a monitored policy")
	core, logs := observer.New(zapcore.InfoLevel)
	h.g.monitor.logger = zap.New(core)
	return logs
}

func differences(kind, op string) float64 {
	return testutil.ToFloat64(monitorMetrics().WithLabelValues(kind, op))
}

// Not parallel: the differences are counted process-wide.
func TestPolicyMonitor(t *testing.T) {
	calls := func(account string) string { return fixture.APIRoot + "/Accounts/" + account + "/Calls.json" }
	requests := []call{
		{path: calls(fixture.SidDev), as: "DEV"},                                // proxy, Developer: monitored denies
		{path: calls(fixture.SidDev), as: "ADMIN"},                              // proxy, Administrator
		{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "DEV"}, // accounts:read
		{path: calls(fixture.SidDev), as: "DEV"},                                // again: from the decision cache
		{path: calls(fixture.SidDev)},                                           // no credentials: 401 from both
	}

	t.Run("a monitored overlay is decided but not enforced", func(t *testing.T) {
		dir := developerProxyBlock(t)
		h := newHarness(t, true, func(g *Gateway) { g.PolicyMonitorDir = dir })
		logs := observeMonitor(h)
		before := differences(policy.WouldDeny, "proxy")
		var codes []int
		for _, c := range requests {
			codes = append(codes, h.do(c).Code)
		}
		assert.Equal(t, []int{http.StatusTeapot, http.StatusTeapot, http.StatusOK, http.StatusTeapot, http.StatusUnauthorized}, codes,
			"served as the policy in force says")
		assert.Len(t, h.proxied, 3)

		lines := logs.All()
		require.Len(t, lines, 2, "the Developer's two proxied requests, and nothing else")
		assert.Equal(t, 2.0, differences(policy.WouldDeny, "proxy")-before)
		for _, l := range lines {
			assert.Equal(t, policy.WouldDeny, l.Message)
			f := l.ContextMap()
			assert.Equal(t, "proxy", f["operation"])
			assert.Equal(t, fixture.SidDev, f["caller"])
			assert.NotEmpty(t, f["decision_id"])
			assert.Equal(t, map[string]any{"allow": true}, f["enforced"])
			assert.Equal(t, map[string]any{"allow": false, "status": 403, "message": "Developers may not", "body": "plain", "stage": 0}, f["monitored"])
			assert.Equal(t, h.g.monitor.engine.Policy().Revision(), f["monitored_revision"])
			assert.NotEqual(t, h.g.engine.Policy().Revision(), f["monitored_revision"])
		}
		assert.NotEqual(t, lines[0].ContextMap()["decision_id"], lines[1].ContextMap()["decision_id"])

		// A refused edit leaves the last good policy monitoring.
		writeFile(t, filepath.Join(dir, "block.rego"), "package restcomm.overlay.block\n\ndeny contains {")
		require.Error(t, h.g.monitor.engine.Reload(t.Context()))
		h.do(requests[0])
		assert.Len(t, logs.FilterMessage(policy.WouldDeny).All(), 3)

		// An accepted edit is monitored at once: now Administrators too.
		writeFile(t, filepath.Join(dir, "block.rego"), `package restcomm.overlay.block

deny contains {"status": 403, "message": "Developers may not"} if {
	input.operation == "proxy"
	input.caller.role in {"Developer", "Administrator"}
}
`)
		require.NoError(t, h.g.monitor.engine.Reload(t.Context()))
		assert.Equal(t, http.StatusTeapot, h.do(requests[1]).Code)
		assert.Len(t, logs.FilterMessage(policy.WouldDeny).All(), 4)
	})

	t.Run("with decision_log on too", func(t *testing.T) {
		dir := developerProxyBlock(t)
		h := newHarness(t, true, func(g *Gateway) { g.PolicyMonitorDir = dir; g.DecisionLog = true })
		logs := observeMonitor(h)
		before := differences(policy.WouldDeny, "proxy")
		assert.Equal(t, http.StatusTeapot, h.do(requests[0]).Code)
		assert.Equal(t, http.StatusTeapot, h.do(requests[1]).Code)
		assert.Len(t, logs.FilterMessage(policy.WouldDeny).All(), 1)
		assert.Equal(t, 1.0, differences(policy.WouldDeny, "proxy")-before)
	})

	t.Run("an identical monitored policy gives no differences", func(t *testing.T) {
		dir := developerProxyBlock(t)
		h := newHarness(t, true, func(g *Gateway) { g.PolicyDir = dir; g.PolicyMonitorDir = dir })
		h.observe(zapcore.InfoLevel) // the service made again keeps the monitor
		logs := observeMonitor(h)
		before := differences(policy.WouldDeny, "proxy")
		for _, c := range requests {
			h.do(c)
		}
		assert.Empty(t, logs.All())
		assert.Equal(t, before, differences(policy.WouldDeny, "proxy"))
	})

	t.Run("a monitored policy that does not compile is refused", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.rego"), []byte("package restcomm.overlay.bad\n\ndeny contains {"), 0o644))
		g := &Gateway{Redis: RedisConfig{URLs: []string{"redis://127.0.0.1:1/0"}}}
		g.PolicyMonitorDir = dir
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		defer cancel()
		err := g.Provision(ctx)
		defer g.Cleanup()
		assert.ErrorContains(t, err, "policy_monitor_dir")
	})
}

// The option is the handler's JSON member policy_monitor_dir, as the
// Caddyfile sets it.
func TestPolicyMonitorDirJSON(t *testing.T) {
	t.Parallel()
	var g Gateway
	require.NoError(t, g.UnmarshalCaddyfile(caddyfile.NewTestDispenser("restcomm {\n\tpolicy_monitor_dir /etc/next\n}")))
	assert.Equal(t, "/etc/next", g.PolicyMonitorDir)
	b, err := json.Marshal(&g)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"policy_monitor_dir":"/etc/next"`)
	var back Gateway
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, "/etc/next", back.PolicyMonitorDir)
	assert.Error(t, back.UnmarshalCaddyfile(caddyfile.NewTestDispenser("restcomm {\n\tpolicy_monitor_dir\n}")))
}
