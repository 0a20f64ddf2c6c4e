package caddymodule

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/policy"
	"github.com/restcomm/restcomm-gateway/store"
)

// copyPolicy writes the built-in policy into a new directory, as a
// security team that replaces it starts (policy_mode replace).
func copyPolicy(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, policy.WriteDefault(dir))
	return dir
}

// starterOverlay writes the starter overlay into a new directory, as a
// security team starts extending the built-in policy (`policy init`).
func starterOverlay(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, policy.WriteStarter(dir))
	return dir
}

// editFile replaces old by new in a file, failing when old is absent.
func editFile(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Contains(t, string(b), old)
	writeFile(t, file, strings.Replace(string(b), old, new, 1))
}

// writeFile writes a policy file as a good editor does, in one step, so
// that a watching gateway never reads it half written.
func writeFile(t *testing.T, file, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
	tmp := file + ".tmp" // not a policy file
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o644))
	require.NoError(t, os.Rename(tmp, file))
}

// reloadDeadline bounds how soon an edit must be in force (or refused):
// a liveness bound, generous so that a loaded machine or the race
// detector does not fail it. The gateway's promise is 2 s (poll every 1 s,
// events at once); the tests log how long each edit took.
const reloadDeadline = 15 * time.Second

// eventually polls cond until it holds, failing after d; it returns how
// long that took.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	require.Eventually(t, cond, d, 20*time.Millisecond, "%s: not within %s", what, d)
	return time.Since(start)
}

// observePolicyLogs sends the logs of h's policy engine to an observer.
func observePolicyLogs(h *harness) *observer.ObservedLogs {
	core, logs := observer.New(zapcore.InfoLevel)
	h.g.engine.use(zap.New(core), h.g.metrics)
	return logs
}

// refusedReloads is how many edits of h's policy directory were refused,
// as its logs say: the reloads_total counter is the process's, which
// other tests' engines count in too.
func refusedReloads(logs *observer.ObservedLogs) int {
	return logs.FilterMessage("policy edit refused; the last good policy stays in force").Len()
}

// blockOrganization is an overlay's rule: every account of the
// organizations of restcomm/blocked/data.json refused at the edge.
const blockOrganization = `package restcomm.overlay.block

deny contains {"status": 403, "message": "Organization blocked"} if {
	input.caller.organization_sid in data.restcomm.blocked.organizations
}
`

// The security team edits the overlay of a running gateway: a good edit is
// in force within 2 s; an edit that does not compile, or whose tests fail,
// is refused, logged and counted while the last good policy stays in
// force.
func TestPolicyDirectoryEditsOfARunningGateway(t *testing.T) {
	t.Parallel()
	dir := starterOverlay(t)
	h := newHarness(t, true, func(g *Gateway) { g.PolicyDir = dir })
	logs := observePolicyLogs(h)
	readSelf := call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"}
	require.Equal(t, 200, h.do(readSelf).Code)
	first := h.g.engine.Policy().Revision()

	// A new rule and its data: every account of organization 0 refused.
	block := filepath.Join(dir, "block.rego")
	writeFile(t, filepath.Join(dir, "restcomm", "blocked", "data.json"), `{"organizations": ["`+fixture.SidOrg0+`"]}`)
	writeFile(t, block, blockOrganization)
	took := eventually(t, reloadDeadline, "new rule in force", func() bool {
		w := h.do(readSelf)
		return w.Code == 403 && w.Body.String() == "Organization blocked"
	})
	t.Logf("new rule in force after %s", took)
	blocked := h.g.engine.Policy().Revision()
	assert.NotEqual(t, first, blocked)

	// A syntax error: refused, the new rule stays in force.
	refused, refusedMetric := refusedReloads(logs), testutil.ToFloat64(h.g.metrics.reloads.WithLabelValues("refused"))
	editFile(t, block, "deny contains {", "deny contains {{")
	eventually(t, reloadDeadline, "syntax error refused", func() bool { return refusedReloads(logs) == refused+1 })
	w := h.do(readSelf)
	assert.Equal(t, 403, w.Code)
	assert.Equal(t, "Organization blocked", w.Body.String())
	assert.Equal(t, blocked, h.g.engine.Policy().Revision())
	entries := logs.FilterMessage("policy edit refused; the last good policy stays in force").All()
	require.Len(t, entries, 1)
	assert.Equal(t, blocked, entries[0].ContextMap()["revision"])
	assert.Contains(t, entries[0].ContextMap()["error"], "block.rego")
	editFile(t, block, "deny contains {{", "deny contains {")

	// An edit that fails the overlay's own tests: refused.
	team := filepath.Join(dir, "team.rego")
	editFile(t, team, `"Network is blocked"`, `"Blocked"`)
	eventually(t, reloadDeadline, "failing tests refused", func() bool { return refusedReloads(logs) == refused+2 })
	assert.Equal(t, blocked, h.g.engine.Policy().Revision())
	assert.Contains(t, h.g.engine.Refused().Error(), "test_a_blocked_network_is_refused")

	// An overlay that would decide itself: refused, with the reason.
	editFile(t, team, `"Blocked"`, `"Network is blocked"`)
	writeFile(t, filepath.Join(dir, "allow.rego"), "package restcomm.authz\n\ndecision := {\"allow\": true}\n")
	eventually(t, reloadDeadline, "a decision of its own refused", func() bool { return refusedReloads(logs) == refused+3 })
	assert.Equal(t, blocked, h.g.engine.Policy().Revision())
	assert.Contains(t, h.g.engine.Refused().Error(), "an overlay may not define data.restcomm.authz.decision itself")
	assert.GreaterOrEqual(t, testutil.ToFloat64(h.g.metrics.reloads.WithLabelValues("refused")), refusedMetric+3)
	require.NoError(t, os.Remove(filepath.Join(dir, "allow.rego")))

	// A new role is a data file of the overlay, in force within 2 s.
	require.NoError(t, os.Remove(block))
	writeFile(t, filepath.Join(dir, "restcomm", "roles", "data.json"), `{"Reader": ["RestComm:Read:Accounts"]}`)
	reader := "Reader"
	_, err := h.store.UpdateAccount(context.Background(), nil, fixture.SidGuest, store.AccountUpdate{Role: &reader, Now: time.Now()})
	require.NoError(t, err)
	took = eventually(t, reloadDeadline, "new role in force", func() bool {
		return h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidGuest, as: "GUEST"}).Code == 200
	})
	t.Logf("new role in force after %s", took)
	assert.Equal(t, 200, h.do(readSelf).Code)
	assert.NoError(t, h.g.engine.Refused())
}

// A `caddy reload` of an unchanged config provisions the handler again:
// it shares the running engine, and Provision makes it re-read the
// directory (the coraza-caddy#188 trap), without waiting for the watch.
func TestConfigReloadRereadsThePolicyDirectory(t *testing.T) {
	t.Parallel()
	dir := starterOverlay(t)
	h := newHarness(t, true, func(g *Gateway) { g.PolicyDir = dir })
	writeFile(t, filepath.Join(dir, "restcomm", "blocked", "data.json"), `{"organizations": ["`+fixture.SidOrg0+`"]}`)
	writeFile(t, filepath.Join(dir, "block.rego"), blockOrganization)

	g2 := &Gateway{Redis: h.g.Redis, PolicyDir: dir}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	require.NoError(t, g2.Provision(ctx))
	defer g2.Cleanup()
	assert.Same(t, h.g.engine, g2.engine)
	h.g = g2
	w := h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"})
	assert.Equal(t, 403, w.Code)
	assert.Equal(t, "Organization blocked", w.Body.String())
}

// Config reloads overlap (the new config is provisioned before the old one
// is cleaned up) and each provisions the handler. Engines and their
// watches are shared while in use and gone once no config uses them.
func TestConfigReloadsLeaveNoGoroutines(t *testing.T) {
	overlay, replacement := starterOverlay(t), copyPolicy(t)
	provision := func(policyDir, mode string) *Gateway {
		g := &Gateway{Redis: RedisConfig{URLs: []string{"redis://127.0.0.1:1/0"}}, PolicyDir: policyDir, PolicyMode: mode}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		t.Cleanup(cancel)
		require.NoError(t, g.Provision(ctx))
		return g
	}
	// First use of OPA, Caddy and zap may start process-wide goroutines.
	require.NoError(t, provision(overlay, "").Cleanup())
	// A pooled Redis client closes a moment after its last config let go
	// of it (redisCloseGrace): wait for that, with a generous bound.
	ignore := goleak.IgnoreCurrent()
	defer func() {
		assert.Eventually(t, func() bool { return goleak.Find(ignore) == nil },
			redisCloseGrace+10*time.Second, 100*time.Millisecond, "the pooled Redis client closed")
		goleak.VerifyNone(t, ignore)
	}()

	for _, c := range [][2]string{{overlay, ""}, {replacement, "replace"}, {"", ""}} {
		old := provision(c[0], c[1])
		for range 5 {
			next := provision(c[0], c[1])
			assert.Same(t, old.engine, next.engine, "the engine carries over a reload")
			require.NoError(t, old.Cleanup())
			old = next
		}
		require.NoError(t, old.Cleanup())
	}
	for _, key := range []string{"overlay:" + overlay, "replace:" + replacement} {
		_, loaded := enginePool.References(key)
		assert.False(t, loaded, "the engine of the directory is gone")
	}
}

// policy_mode: an overlay (the default) is refused when it would decide
// itself; the same directory replaces the built-in policy when asked to.
func TestPolicyMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "allow.rego"), "package restcomm.authz\n\ndecision := {\"allow\": true}\n")
	provision := func(mode, policyDir string) error {
		g := &Gateway{Redis: RedisConfig{URLs: []string{"redis://127.0.0.1:1/0"}}, PolicyDir: policyDir, PolicyMode: mode}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		defer cancel()
		err := g.Provision(ctx)
		if err == nil {
			assert.NoError(t, g.Cleanup())
		}
		return err
	}
	for _, mode := range []string{"", "overlay"} {
		err := provision(mode, dir)
		assert.ErrorContains(t, err, "allow.rego:3: an overlay may not define data.restcomm.authz.decision itself")
		assert.ErrorContains(t, err, "use policy_mode replace")
	}
	assert.NoError(t, provision("replace", dir))
	assert.ErrorContains(t, provision("replace", ""), "policy_mode replace: no policy_dir")
	assert.ErrorContains(t, provision("merge", dir), `policy mode "merge": want overlay or replace`)

	d := caddyfile.NewTestDispenser("restcomm {\n\tpolicy_dir /p\n\tpolicy_mode replace\n}")
	g := new(Gateway)
	require.NoError(t, g.UnmarshalCaddyfile(d))
	assert.Equal(t, "replace", g.PolicyMode)
	for _, bad := range []string{"policy_mode", "policy_mode merge", "policy_mode overlay replace"} {
		assert.Error(t, new(Gateway).UnmarshalCaddyfile(caddyfile.NewTestDispenser("restcomm {\n\t"+bad+"\n}")), bad)
	}
}

// The throttle thresholds are data an overlay overrides.
func TestOverlayThrottleThresholds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "restcomm", "throttle", "data.json"), `{"login_ip_max_failures": 2}`)
	h := newHarness(t, true, func(g *Gateway) { g.PolicyDir = dir })
	assert.Equal(t, policy.ThrottleSettings{Window: 5 * time.Minute, LoginIPMax: 2, IPMax: 100, IPv6PrefixLength: 64}, h.g.engine.Policy().Throttle())
	c := call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, user: fixture.SidDev, secret: "wrong"}
	assert.Equal(t, 401, h.do(c).Code)
	assert.Equal(t, 401, h.do(c).Code)
	c.secret = fixture.Token
	assert.Equal(t, 429, h.do(c).Code)
}

func TestNoDecisionLogUnlessAsked(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	assert.Nil(t, h.g.decisionLogger)
	h = newHarness(t, true, func(g *Gateway) { g.DecisionLog = true })
	assert.NotNil(t, h.g.decisionLogger, "decision_log on: the service gets a decision logger")
}

// The collectors are the process's: a handler provisioned twice into one
// config counts into one set (registered once), a new config registers
// the same collectors in its own registry, and each decision is counted
// by its result.
func TestMetricsAcrossConfigReloads(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"})
	h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin})
	for _, reg := range []*prometheus.Registry{h.ctx.GetMetricsRegistry(), prometheus.NewPedanticRegistry()} {
		first, err := newMetrics(reg)
		require.NoError(t, err)
		again, err := newMetrics(reg) // provisioned twice into one registry
		require.NoError(t, err)
		assert.Same(t, first.decisions, again.decisions)
		families, err := reg.Gather()
		require.NoError(t, err)
		names := map[string]bool{}
		for _, f := range families {
			names[f.GetName()] = true
		}
		assert.True(t, names["restcomm_gateway_policy_decisions_total"])
		assert.True(t, names["restcomm_gateway_policy_reloads_total"])
		assert.True(t, names["restcomm_gateway_policy_decision_duration_seconds"])
	}
	inConfig, err := newMetrics(h.ctx.GetMetricsRegistry())
	require.NoError(t, err)
	assert.Same(t, h.g.metrics.decisions, inConfig.decisions, "the handler's collectors are the ones registered")
	assert.Positive(t, testutil.ToFloat64(h.g.metrics.allowed))
	assert.Positive(t, testutil.ToFloat64(h.g.metrics.decisions.WithLabelValues("deny", "401")))
	errors403 := h.g.metrics.decisions.WithLabelValues("error", "403")
	before := testutil.ToFloat64(errors403)
	h.g.metrics.Decision(policy.Deny, errors.New("no valid decision"), time.Microsecond)
	assert.GreaterOrEqual(t, testutil.ToFloat64(errors403), before+1)
}
