package policy_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/policy"
)

// killSwitch denies every request while it is on. Its condition errors for
// any client address that is not a number, such as every real one: OPA's
// default leaves the rule undefined then, so the switch reads as off and
// the request is allowed.
const killSwitch = `package restcomm.authz

kill_switch if to_number(input.client_ip) != -1

decision := {"allow": false, "status": 403, "message": "", "body": "page", "stage": 0} if {
	kill_switch
} else := unswitched_decision
`

// Its tests pass: they never reach the built-in's error.
const killSwitchTests = `package restcomm.kill_switch_test

import data.restcomm.authz.decision
import data.restcomm.authz.kill_switch

test_kill_switch_off_without_a_client_ip if not kill_switch with input as {}

test_kill_switch_on if {
	kill_switch with input as {"client_ip": "7"}
	not decision.allow with input as {"operation": "accounts:read", "client_ip": "7"}
}
`

// killSwitchPolicy is the shipped policy whose decision is denied while
// killSwitch is on.
func killSwitchPolicy(t *testing.T) string {
	t.Helper()
	dir := copyPolicy(t)
	edit(t, filepath.Join(dir, "restcomm", "authz.rego"), "\ndecision := ", "\nunswitched_decision := ")
	write(t, filepath.Join(dir, "restcomm", "kill_switch.rego"), killSwitch)
	write(t, filepath.Join(dir, "restcomm", "kill_switch_test.rego"), killSwitchTests)
	return dir
}

func write(t *testing.T, file, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(file, []byte(content), 0o644))
}

// A built-in's error fails closed: the evaluation is an
// error, which callers answer with policy.Deny, not an allowing decision.
func TestBuiltinErrorInTheDecisionIsAnError(t *testing.T) {
	e, err := policy.OpenDir(ctx, killSwitchPolicy(t), policy.EngineOptions{Mode: policy.Replace})
	require.NoError(t, err, "the policy loads: its own tests pass")
	p := e.Policy()
	var names []string
	for _, r := range p.TestResults() {
		names = append(names, r.Name)
	}
	assert.Contains(t, names, "data.restcomm.kill_switch_test.test_kill_switch_off_without_a_client_ip")

	a := admin()
	child := &policy.Subject{Sid: "ACchild", Role: "Developer", Status: "active", OrganizationSid: "ORG0", Ancestors: []string{a.Sid}}
	in := policy.Input{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/ACchild", Caller: a, Target: child}

	d, err := p.Decide(ctx, &in)
	require.NoError(t, err, "no client address: the switch is off")
	assert.True(t, d.Allow)

	in.ClientIP = "7"
	d, err = p.Decide(ctx, &in)
	require.NoError(t, err)
	assert.False(t, d.Allow, "the decision depends on the switch")

	in.ClientIP = "1.2.3.4"
	for range 2 { // an error is not remembered as a decision
		d, err = p.Decide(ctx, &in)
		require.Error(t, err, "to_number(%q) errors: no valid decision, got %+v", in.ClientIP, d)
		assert.Contains(t, err.Error(), "to_number")
		assert.Equal(t, policy.Deny, d)
	}
	d, err = policy.DecideUncached(ctx, p, &in)
	require.Error(t, err)
	assert.Equal(t, policy.Deny, d)
}

// The tests run as the decision does: a test that meets a built-in's error
// fails, even when its expectation holds, and the policy is refused.
func TestTestThatMeetsABuiltinErrorFails(t *testing.T) {
	dir := killSwitchPolicy(t)
	write(t, filepath.Join(dir, "restcomm", "kill_switch_address_test.rego"), `package restcomm.kill_switch_address_test

import data.restcomm.authz.kill_switch

test_kill_switch_off_for_an_address if not kill_switch with input as {"client_ip": "1.2.3.4"}
`)
	_, err := policy.Compile(ctx, os.DirFS(dir))
	var failed *policy.TestsFailedError
	require.ErrorAs(t, err, &failed)
	var bad []policy.TestResult
	for _, r := range failed.Results {
		if !r.Passed && !r.Skipped {
			bad = append(bad, r)
		}
	}
	require.Len(t, bad, 1, "%v", err)
	assert.Equal(t, "data.restcomm.kill_switch_address_test.test_kill_switch_off_for_an_address", bad[0].Name)
	assert.Contains(t, bad[0].Err, "to_number")

	_, err = policy.OpenDir(ctx, dir, policy.EngineOptions{Mode: policy.Replace})
	assert.ErrorAs(t, err, &failed, "an engine refuses it too")
}

// The built-ins that reach outside the input and data (the network, the
// process) do not compile, in a policy or in its tests; print does.
func TestUnsafeBuiltinsDoNotCompile(t *testing.T) {
	calls := map[string]string{
		"http.send":          `http.send({"method": "get", "url": "http://127.0.0.1:1"}).status_code == 200`,
		"net.lookup_ip_addr": `count(net.lookup_ip_addr("localhost")) > 0`,
		"opa.runtime":        `opa.runtime().env`,
		"trace":              `trace("x")`,
	}
	for name, call := range calls {
		t.Run(name+" in the policy", func(t *testing.T) {
			_, err := policy.Compile(ctx, fstest.MapFS{"authz.rego": {Data: []byte(minimalAuthz + "x if " + call + "\n")}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), name)
		})
		t.Run(name+" in a test", func(t *testing.T) {
			_, err := policy.Compile(ctx, fstest.MapFS{
				"authz.rego":      {Data: []byte(minimalAuthz)},
				"authz_test.rego": {Data: []byte("package restcomm.authz_test\ntest_x if " + call + "\n")},
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), name)
			var failed *policy.TestsFailedError
			assert.False(t, errors.As(err, &failed), "refused at compile time, not by running it: %v", err)
		})
	}

	p, err := policy.Compile(ctx, fstest.MapFS{
		"authz.rego":      {Data: []byte(minimalAuthz)},
		"authz_test.rego": {Data: []byte("package restcomm.authz_test\nimport data.restcomm.authz.decision\ntest_print if {\n\td := decision with input as {\"operation\": \"ok\"}\n\tprint(\"allow:\", d.allow)\n}\n")},
	})
	require.NoError(t, err)
	require.Len(t, p.TestResults(), 1)
	assert.Equal(t, "allow: true", strings.TrimSpace(p.TestResults()[0].Output))
}
