package policy_test

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/policy"
)

// overlay is a policy directory of the given files.
func overlay(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, content := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(content)}
	}
	return fsys
}

func developer() *policy.Subject {
	return &policy.Subject{Sid: "ACdev", Role: "Developer", Status: "active", OrganizationSid: "ORG0", Ancestors: []string{admin().Sid}}
}

// An overlay cannot allow by defining the decision itself: it is refused,
// saying why and what to do instead.
func TestOverlayThatDefinesTheDecisionIsRefused(t *testing.T) {
	_, err := policy.CompileOverlay(ctx, overlay(map[string]string{
		"allow.rego": "package restcomm.authz\n\ndecision := {\"allow\": true}\n",
	}))
	var refused *policy.OverlayError
	require.ErrorAs(t, err, &refused)
	assert.Equal(t, []string{"allow.rego:3: an overlay may not define data.restcomm.authz.decision itself: the built-in " +
		"policy decides, and an overlay refuses through deny rules in a package below restcomm.overlay and grants " +
		"only through the other extension points; to own the whole decision, use policy_mode replace"}, refused.Problems)

	// The same directory replaces the built-in policy when that is asked.
	p, err := policy.Compile(ctx, overlay(map[string]string{"allow.rego": "package restcomm.authz\n\ndecision := {\"allow\": true}\n"}))
	require.NoError(t, err)
	d, err := p.Decide(ctx, &policy.Input{Operation: "accounts:read"})
	require.NoError(t, err)
	assert.True(t, d.Allow)
}

// Nothing of an overlay may stand in the built-in policy's packages or
// data, nor where the decision looks for extension rules but would not
// find them.
func TestOverlayCannotWiden(t *testing.T) {
	for name, c := range map[string]struct {
		files map[string]string
		want  string
	}{
		"a built-in rule": {map[string]string{"x.rego": "package restcomm.authz\n\nsuper_admin if input.caller.role == \"Boss\"\n"},
			"x.rego:3: an overlay may not define rules in restcomm.authz (here data.restcomm.authz.super_admin), a package of the built-in policy"},
		"through a ref head": {map[string]string{"x.rego": "package restcomm\n\nauthz.may_operate_on_target if true\n"},
			"x.rego:3: an overlay may not define rules in restcomm.authz"},
		"a permission": {map[string]string{"x.rego": "package restcomm.permissions\n\npermitted(_) if input.caller.role == \"Boss\"\n"},
			"x.rego:3: an overlay may not define rules in restcomm.permissions"},
		"a role as a rule": {map[string]string{"x.rego": "package restcomm.roles\n\nBoss := [\"*\"]\n"},
			"x.rego:3: an overlay may not define data.restcomm.roles.Boss: data.restcomm.roles is the built-in policy's data, which an overlay overrides with a data file (restcomm/roles/data.json)"},
		"a test in a built-in package": {map[string]string{"x_test.rego": "package restcomm.authz_test\n\ntest_x if true\n"},
			"x_test.rego:3: an overlay may not define rules in restcomm.authz_test"},
		"a test below restcomm.overlay": {map[string]string{"x_test.rego": "package restcomm.overlay.team_test\n\ntest_x if true\n"},
			"tests and their helpers may not be below restcomm.overlay"},
		"a rule in restcomm.overlay": {map[string]string{"x.rego": "package restcomm.overlay\n\nteam := {\"deny\": {{\"status\": 403}}}\n"},
			"x.rego:3: data.restcomm.overlay.team: no rule may be defined in restcomm.overlay itself"},
		"a deny too deep": {map[string]string{"x.rego": "package restcomm.overlay.team.sub\n\ndeny contains {\"status\": 403} if true\n"},
			"deny is an extension point, defined only as a rule of a package directly below restcomm.overlay"},
		"a deny that is one value": {map[string]string{"x.rego": "package restcomm.overlay.team\n\ndeny := {\"status\": 403}\n"},
			"deny is a multi-value rule"},
		"a deny of strings": {map[string]string{"x.rego": "package restcomm.overlay.team\n\ndeny contains \"blocked\" if true\n"},
			"the values of deny are objects"},
		"a deny without status": {map[string]string{"x.rego": "package restcomm.overlay.team\n\ndeny contains {\"message\": \"no\"} if true\n"},
			"a value of deny needs a status"},
		"a deny that is not 4xx": {map[string]string{"x.rego": "package restcomm.overlay.team\n\ndeny contains {\"status\": 302} if true\n"},
			"status 302 is not a 4xx status"},
		"a deny with a stage": {map[string]string{"x.rego": "package restcomm.overlay.team\n\ndeny contains {\"status\": 403, \"stage\": 10} if true\n"},
			"a value of deny has only the fields status, message, not stage"},
		"a deny_operation body": {map[string]string{"x.rego": "package restcomm.overlay.team\n\ndeny_operation contains {\"status\": 403, \"body\": \"html\"} if true\n"},
			"body \"html\" is not page, plain, text or typed"},
		"a reach that is a set": {map[string]string{"x.rego": "package restcomm.overlay.team\n\nmay_operate_on_target contains 1 if true\n"},
			"may_operate_on_target is a boolean rule"},
		"data in a built-in package": {map[string]string{"restcomm/authz/data.json": `{"decision": {"allow": true}}`},
			"restcomm/authz: data may not be placed in restcomm.authz, a package of the built-in policy"},
		"data over a built-in package": {map[string]string{"data.json": `{"restcomm": "nothing"}`},
			"restcomm: data there must be an object"},
		"an extension point as data": {map[string]string{"restcomm/overlay/team/data.json": `{"may_operate_on_target": true}`},
			"restcomm/overlay/team: may_operate_on_target is an extension point: a rule, not data"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := policy.CompileOverlay(ctx, overlay(c.files))
			var refused *policy.OverlayError
			require.ErrorAs(t, err, &refused)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// deny in any package directly below restcomm.overlay refuses every
// authenticated request it matches, served or passed through, with its
// status and message; rules of several packages are collected.
func TestOverlayDenyExtensionPoint(t *testing.T) {
	p, err := policy.CompileOverlay(ctx, overlay(map[string]string{
		"a.rego": "package restcomm.overlay.a\n\ndeny contains {\"status\": 403, \"message\": \"Provided Account is blocked\"} if input.caller.sid == \"ACdev\"\n",
		"b.rego": "package restcomm.overlay.b\n\ndeny contains {\"status\": 429} if input.client_ip == \"203.0.113.7\"\n" +
			// an extension rule may use the built-in's rules that do not depend on it
			"\ndeny contains {\"status\": 418} if {\n\tinput.client_ip == \"203.0.113.8\"\n\tdata.restcomm.authz.super_admin\n}\n",
	}))
	require.NoError(t, err)
	dev, a := developer(), admin()
	for _, in := range []policy.Input{
		{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/ACdev", Caller: dev, Target: dev},
		{Operation: "proxy", Method: "POST", Path: "Accounts/ACdev/Calls.json", Caller: dev},
		{Operation: "proxy", Method: "GET", Path: "Logout", Caller: dev},
		{Operation: "none", Method: "DELETE", Path: "Accounts.json", Caller: dev},
	} {
		d, err := p.Decide(ctx, &in)
		require.NoError(t, err)
		assert.Equal(t, policy.Decision{Status: 403, Message: "Provided Account is blocked", Body: "plain"}, d, in.Operation)
	}
	d, err := p.Decide(ctx, &policy.Input{Operation: "accounts:read", Path: "Accounts.json/ACadmin", ClientIP: "203.0.113.7", Caller: a, Target: a})
	require.NoError(t, err)
	assert.Equal(t, policy.Decision{Status: 429, Body: "page"}, d)
	d, err = p.Decide(ctx, &policy.Input{Operation: "accounts:read", Path: "Accounts.json/ACadmin", ClientIP: "203.0.113.8", Caller: a, Target: a})
	require.NoError(t, err)
	assert.Equal(t, 418, d.Status)
	d, err = p.Decide(ctx, &policy.Input{Operation: "accounts:read", Path: "Accounts.json/ACadmin", ClientIP: "203.0.113.8", Caller: dev, Target: a})
	require.NoError(t, err)
	assert.Equal(t, policy.Decision{Status: 403, Message: "Provided Account is blocked", Body: "plain"}, d)
	// Without credentials nobody is known: RestComm's 401.
	d, err = p.Decide(ctx, &policy.Input{Operation: "accounts:read", Path: "Accounts.json/ACdev", ClientIP: "203.0.113.7"})
	require.NoError(t, err)
	assert.Equal(t, 401, d.Status)
	// Others pass.
	d, err = p.Decide(ctx, &policy.Input{Operation: "accounts:read", Path: "Accounts.json/ACdev", Caller: a, Target: dev})
	require.NoError(t, err)
	assert.True(t, d.Allow)
}

// A deny value the gateway cannot read as a refusal refuses with 403 as a
// policy error: never an allow.
func TestOverlayDenyOfTheWrongShapeFailsClosed(t *testing.T) {
	p, err := policy.CompileOverlay(ctx, overlay(map[string]string{
		"a.rego": "package restcomm.overlay.a\n\ndeny contains x if {\n\tinput.caller\n\tx := input.path\n}\n" +
			"\ndeny contains {\"status\": to_number(input.method)} if input.caller.role == \"Administrator\"\n",
	}))
	require.NoError(t, err)
	for _, in := range []policy.Input{
		{Operation: "proxy", Method: "GET", Path: "Accounts/ACdev/Calls.json", Caller: developer()},
		{Operation: "proxy", Method: "200", Path: "Accounts/ACdev/Calls.json", Caller: admin()},
	} {
		d, err := p.Decide(ctx, &in)
		assert.Error(t, err)
		assert.Equal(t, policy.Deny, d)
	}
}

// Roles, the throttle thresholds and the overlay's own data are merged
// over the built-in policy's data: a JSON merge patch.
func TestOverlayDataIsMergedOverTheBuiltin(t *testing.T) {
	p, err := policy.CompileOverlay(ctx, overlay(map[string]string{
		"restcomm/roles/data.json":    `{"Reader": ["RestComm:Read:Accounts"], "Developer": ["RestComm:Read:Accounts"]}`,
		"restcomm/throttle/data.json": `{"login_ip_max_failures": 3}`,
	}))
	require.NoError(t, err)
	assert.Equal(t, policy.ThrottleSettings{Window: 300 * time.Second, LoginIPMax: 3, IPMax: 100, IPv6PrefixLength: 64}, p.Throttle())
	reader := &policy.Subject{Sid: "ACreader", Role: "Reader", Status: "active", OrganizationSid: "ORG0"}
	d, err := p.Decide(ctx, &policy.Input{Operation: "accounts:read", Path: "Accounts.json/ACreader", Caller: reader, Target: reader})
	require.NoError(t, err)
	assert.True(t, d.Allow, "a role added")
	d, err = p.Decide(ctx, &policy.Input{Operation: "accounts:create", Path: "Accounts.json", Caller: developer()})
	require.NoError(t, err)
	assert.Equal(t, 10, d.Stage, "a role overridden: Developer creates nothing")
	dev := developer()
	d, err = p.Decide(ctx, &policy.Input{Operation: "accounts:read", Path: "Accounts.json/ACdev", Caller: dev, Target: dev,
		Throttle: &policy.Throttle{LoginIPFailures: 3, RetryAfter: 9}})
	require.NoError(t, err)
	assert.Equal(t, 429, d.Status, "a threshold lowered")

	// null removes the built-in's data: no throttling at all.
	p, err = policy.CompileOverlay(ctx, overlay(map[string]string{"restcomm/data.json": `{"throttle": null}`}))
	require.NoError(t, err)
	assert.False(t, p.Throttle().Enabled())
	// Bounds hold for an overlay as for any policy.
	_, err = policy.CompileOverlay(ctx, overlay(map[string]string{"restcomm/throttle/data.json": `{"window_seconds": 0}`}))
	assert.ErrorContains(t, err, "window_seconds")
	_, err = policy.CompileOverlay(ctx, overlay(map[string]string{"restcomm/throttle/data.json": `{"ipv6_prefix_length": 16}`}))
	assert.ErrorContains(t, err, "ipv6_prefix_length")
	p, err = policy.CompileOverlay(ctx, overlay(map[string]string{"restcomm/throttle/data.json": `{"ipv6_prefix_length": 56}`}))
	require.NoError(t, err)
	assert.Equal(t, 56, p.Throttle().IPv6PrefixLength)
}

// policy test of an overlay: the built-in policy's tests, and the
// overlay's on the two together; a failing overlay test refuses it.
func TestOverlayTests(t *testing.T) {
	def, err := policy.Compile(ctx, policy.Default())
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, policy.WriteStarter(dir))
	p, err := policy.CompileOverlay(ctx, os.DirFS(dir))
	require.NoError(t, err)
	assert.Equal(t, def.Tests()+2, p.Tests())
	var builtin, own []string
	for _, r := range p.TestResults() {
		if strings.HasPrefix(r.Location, "builtin:restcomm/") {
			builtin = append(builtin, r.Name)
		} else {
			own = append(own, r.Location)
		}
	}
	assert.Len(t, builtin, def.Tests())
	assert.Equal(t, []string{"team_test.rego:11", "team_test.rego:16"}, own)
	assert.NotEqual(t, def.Revision(), p.Revision())

	b, err := os.ReadFile(dir + "/team.rego")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dir+"/team.rego", []byte(strings.Replace(string(b), `{"status": 403`, `{"status": 451`, 1)), 0o644))
	_, err = policy.CompileOverlay(ctx, os.DirFS(dir))
	var failed *policy.TestsFailedError
	require.ErrorAs(t, err, &failed)
	assert.Contains(t, err.Error(), "data.restcomm.team_test.test_a_blocked_network_is_refused (team_test.rego:11)")
	assert.Regexp(t, `policy tests failed \(1 of \d+\)`, err.Error())
}

// Decisions are remembered only when the built-in policy and the overlay
// are both deterministic.
func TestOverlayThatReadsTheClockIsNotCached(t *testing.T) {
	p, err := policy.CompileOverlay(ctx, overlay(map[string]string{"a.rego": "package restcomm.overlay.a\n\ndeny contains {\"status\": 403} if time.now_ns() < 0\n"}))
	require.NoError(t, err)
	assert.False(t, policy.Cached(p))
	p, err = policy.CompileOverlay(ctx, overlay(map[string]string{"a.rego": "package restcomm.overlay.a\n\ndeny contains {\"status\": 403} if startswith(input.path, \"X\")\n"}))
	require.NoError(t, err)
	assert.True(t, policy.Cached(p))
}

// A built-in's error in an overlay fails closed, as in any policy.
func TestOverlayBuiltinErrorFailsClosed(t *testing.T) {
	p, err := policy.CompileOverlay(ctx, overlay(map[string]string{
		"a.rego": "package restcomm.overlay.kill_switch\n\ndeny contains {\"status\": 403} if to_number(input.client_ip) != -1\n",
	}))
	require.NoError(t, err)
	a := admin()
	in := policy.Input{Operation: "accounts:read", Path: "Accounts.json/ACadmin", Caller: a, Target: a}
	d, err := p.Decide(ctx, &in)
	require.NoError(t, err)
	assert.True(t, d.Allow, "no address: no error")
	in.ClientIP = "1.2.3.4"
	d, err = p.Decide(ctx, &in)
	assert.ErrorContains(t, err, "to_number")
	assert.Equal(t, policy.Deny, d)
}

func TestShowBuiltin(t *testing.T) {
	var b strings.Builder
	require.NoError(t, policy.ShowBuiltin(&b))
	assert.Contains(t, b.String(), "# ==> restcomm/authz.rego <==\n# The gateway's authorization policy")
	assert.Contains(t, b.String(), "# ==> restcomm/extensions.rego <==\n")
	assert.Contains(t, b.String(), "decision := throttled if {")
}
