package policy_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/version"
	"github.com/restcomm/restcomm-gateway/policy"
)

func decisionLogInputs() []policy.Input {
	a := admin()
	dev := &policy.Subject{Sid: "ACdev", Role: "Developer", Status: "active", OrganizationSid: "ORG0", Ancestors: []string{a.Sid}}
	return []policy.Input{
		{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/ACdev", ClientIP: "192.0.2.1", Caller: a, Target: dev},
		{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/" + a.Sid, Caller: dev, Target: a},
		{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/x", Throttle: &policy.Throttle{LoginIPFailures: 1, IPFailures: 2, RetryAfter: 3}},
		{Operation: "accounts:update", Method: "POST", Path: "Accounts/ACdev", Caller: dev, Target: dev, Request: policy.Request{RoleChange: true, Role: role("Administrator"), Status: "active"}},
		{Operation: "proxy", Method: "GET", Path: "Accounts/ACdev/Calls.json", Caller: dev, PathAccountSid: "ACdev", PathAccount: dev},
		{Operation: "organizations:read", Method: "GET", Path: "Organizations/ORG1", Caller: a, OrganizationExists: true, Request: policy.Request{OrganizationSid: "ORG1"}},
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// DecideLogged decides as Decide does and records the input the policy
// evaluated, the decision it returned and OPA's evaluation timer; that
// input, evaluated again on the same revision, gives that result.
func TestDecideLogged(t *testing.T) {
	p, err := policy.Compile(ctx, policy.Default())
	require.NoError(t, err)
	for _, in := range decisionLogInputs() {
		want, err := p.Decide(ctx, &in)
		require.NoError(t, err)
		got, ev, err := p.DecideLogged(ctx, &in)
		require.NoError(t, err)
		assert.Equal(t, want, got, "%+v", in)

		assert.JSONEq(t, policy.InputDocument(&in).String(), jsonOf(t, ev.Input), "the input document evaluated")
		assert.Contains(t, ev.Metrics, "timer_rego_query_eval_ns")
		result, err := p.Evaluate(ctx, ev.Input)
		require.NoError(t, err)
		assert.JSONEq(t, jsonOf(t, result), jsonOf(t, ev.Result))
		var doc map[string]any
		require.NoError(t, json.Unmarshal([]byte(jsonOf(t, ev.Result)), &doc))
		assert.Equal(t, got.Allow, doc["allow"], "the decision document the policy returned")
	}
	assert.Equal(t, strings.ReplaceAll(strings.TrimPrefix(policy.DecisionQuery, "data."), ".", "/"), policy.DecisionPath)
}

// The bundles a decision log names: the built-in policy with the revision
// of its OPA bundle's manifest, and the overlay or the replacement policy
// with the revision the gateway reports.
func TestBundleRevisions(t *testing.T) {
	builtin, err := policy.Compile(ctx, policy.Default())
	require.NoError(t, err)
	rev, err := policy.BuiltinRevision()
	require.NoError(t, err)
	want := version.Get().Version + "+" + rev
	assert.Equal(t, rev, builtin.Revision())
	assert.Equal(t, map[string]string{"builtin": want}, builtin.BundleRevisions())

	overlay, err := policy.CompileOverlay(ctx, os.DirFS("examples/networks"))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"builtin": want, "overlay": overlay.Revision()}, overlay.BundleRevisions())

	replacement, err := policy.Compile(ctx, fstest.MapFS{"authz.rego": {Data: []byte(minimalAuthz)}})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"policy": replacement.Revision()}, replacement.BundleRevisions())
}

// A logged input is evaluated by OPA itself, as `opa eval -d policy/default
// -i input.json data.restcomm.authz.decision` would, to the logged result.
func TestLoggedInputEvaluatedByOPA(t *testing.T) {
	p, err := policy.Compile(ctx, policy.Default())
	require.NoError(t, err)
	files, err := loader.NewFileLoader().Filtered([]string{"default"}, func(_ string, info os.FileInfo, _ int) bool {
		return !info.IsDir() && strings.HasSuffix(info.Name(), "_test.rego")
	})
	require.NoError(t, err)
	for _, in := range decisionLogInputs() {
		_, ev, err := p.DecideLogged(ctx, &in)
		require.NoError(t, err)
		var input any
		require.NoError(t, json.Unmarshal([]byte(jsonOf(t, ev.Input)), &input), "the input as a log holds it")
		opts := []func(*rego.Rego){rego.Query(policy.DecisionQuery), rego.Input(input), rego.Store(inmem.NewFromObject(files.Documents))}
		for _, m := range files.ParsedModules() {
			opts = append(opts, rego.ParsedModule(m))
		}
		rs, err := rego.New(opts...).Eval(ctx)
		require.NoError(t, err)
		require.Len(t, rs, 1)
		assert.JSONEq(t, jsonOf(t, rs[0].Expressions[0].Value), jsonOf(t, ev.Result), "%+v", in)
	}
}

// An evaluation that fails records no result, and denies.
func TestDecideLoggedFails(t *testing.T) {
	p, err := policy.Compile(ctx, policy.Default())
	require.NoError(t, err)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	in := decisionLogInputs()[0]
	d, ev, err := p.DecideLogged(cancelled, &in)
	require.Error(t, err)
	assert.Equal(t, policy.Deny, d)
	assert.Nil(t, ev.Result)
	assert.NotNil(t, ev.Input)
}

// The policy's input document holds no credential: every field of
// policy.Input is named here, as what it is, so that a new one is looked
// at before it reaches the decision log (which also erases any member
// named like a credential: decisionlog.SecretNames).
func TestPolicyInputHoldsNoCredential(t *testing.T) {
	t.Parallel()
	in := policy.Input{
		Operation: "o", Method: "m", Path: "p", ClientIP: "i", PathAccountSid: "a", OrganizationExists: true,
		Caller:      &policy.Subject{Sid: "s", Role: "r", Status: "t", OrganizationSid: "o", Ancestors: []string{"x"}},
		Target:      &policy.Subject{Sid: "s"},
		PathAccount: &policy.Subject{Sid: "s"},
		Request:     policy.Request{RoleChange: true, Role: new(string), Status: "s", OrganizationSid: "o", OrganizationFilter: true},
		Throttle:    &policy.Throttle{LoginIPFailures: 1, IPFailures: 1, RetryAfter: 1},
	}
	var doc any
	require.NoError(t, json.Unmarshal([]byte(policy.InputDocument(&in).String()), &doc))
	var names []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, c := range m {
				walk(prefix+"/"+k, c)
			}
			return
		}
		names = append(names, prefix)
	}
	walk("/input", doc)
	subject := func(p string) []string {
		return []string{p + "/sid", p + "/role", p + "/status", p + "/organization_sid", p + "/ancestors"}
	}
	want := []string{"/input/operation", "/input/method", "/input/path", "/input/client_ip", "/input/path_account_sid",
		"/input/organization", "/input/request/role_change", "/input/request/role", "/input/request/status",
		"/input/request/organization_sid", "/input/request/organization_filter",
		"/input/throttle/login_ip_failures", "/input/throttle/ip_failures", "/input/throttle/retry_after"}
	want = append(want, subject("/input/caller")...)
	want = append(want, subject("/input/target")...)
	want = append(want, subject("/input/path_account")...)
	assert.ElementsMatch(t, want, names, "a new input field: is it a credential? If so, never put it in the input")
}

// BenchmarkDecideLogged is a decision with decision_log on: a full
// evaluation with OPA's metrics, and the input and the result as JSON
// documents (compare BenchmarkDecide and BenchmarkDecideUncached).
func BenchmarkDecideLogged(b *testing.B) {
	p, err := policy.Compile(ctx, policy.Default())
	require.NoError(b, err)
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d, _, err := p.DecideLogged(ctx, &bc.in)
				if err != nil || !d.Allow {
					b.Fatal(d, err)
				}
			}
		})
	}
}
