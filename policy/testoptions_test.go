package policy_test

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/policy"
)

// starterWith is the starter overlay with extra files.
func starterWith(t *testing.T, extra map[string]string) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, name := range []string{"team.rego", "team_test.rego", "restcomm/team/data.json"} {
		b, err := os.ReadFile("starter/" + name)
		require.NoError(t, err)
		fsys[name] = &fstest.MapFile{Data: b}
	}
	for name, content := range extra {
		fsys[name] = &fstest.MapFile{Data: []byte(content)}
	}
	return fsys
}

const failingTest = "package restcomm.broken_test\n\ntest_never if {\n\tx := 1\n\tx == 2\n}\n"

// Run selects the tests, as opa test --run: the built-in policy's and the
// overlay's alike; only those it selects run and decide.
func TestCompileWithRun(t *testing.T) {
	p, err := policy.CompileWith(ctx, starterWith(t, nil), policy.Overlay, policy.TestOptions{Run: `team_test\.`})
	require.NoError(t, err)
	require.NotZero(t, p.Tests())
	for _, r := range p.TestResults() {
		assert.Contains(t, r.Name, "data.restcomm.team_test.")
		require.NotNil(t, r.OPA)
		assert.Equal(t, "data.restcomm.team_test", r.OPA.Package)
	}
	all, err := policy.CompileOverlay(ctx, starterWith(t, nil))
	require.NoError(t, err)
	assert.Less(t, p.Tests(), all.Tests())

	p, err = policy.CompileWith(ctx, starterWith(t, nil), policy.Overlay, policy.TestOptions{Run: "authz_test.test_no_credentials"})
	require.NoError(t, err)
	require.Len(t, p.TestResults(), 1, "a built-in test selected alone")

	// A failing test not selected does not refuse the directory; selected, it does.
	broken := starterWith(t, map[string]string{"broken_test.rego": failingTest})
	_, err = policy.CompileWith(ctx, broken, policy.Overlay, policy.TestOptions{Run: "team_test"})
	require.NoError(t, err)
	_, err = policy.CompileWith(ctx, broken, policy.Overlay, policy.TestOptions{Run: "broken_test"})
	var failed *policy.TestsFailedError
	require.ErrorAs(t, err, &failed)
	require.Len(t, failed.Results, 1)
	assert.True(t, failed.Results[0].OPA.Fail)

	_, err = policy.CompileWith(ctx, starterWith(t, nil), policy.Overlay, policy.TestOptions{Run: "("})
	assert.ErrorContains(t, err, "tests to run")
}

// Coverage records what the tests evaluate, in the built-in policy's
// files and the overlay's, as OPA's cover package reports it.
func TestCompileWithCoverage(t *testing.T) {
	cov := cover.New()
	p, err := policy.CompileWith(ctx, starterWith(t, nil), policy.Overlay, policy.TestOptions{Coverage: cov})
	require.NoError(t, err)
	names := slices.Collect(maps.Keys(p.Modules()))
	assert.ElementsMatch(t, []string{"builtin:restcomm/authz.rego", "builtin:restcomm/extensions.rego",
		"builtin:restcomm/permissions.rego", "team.rego"}, names, "rule files only")
	report := cov.Report(p.Modules())
	for _, name := range names {
		require.Contains(t, report.Files, name)
		assert.Positive(t, report.Files[name].Coverage, name)
	}
	assert.Greater(t, report.Coverage, 50.0)
	assert.Len(t, report.Files, len(names), "the tests are not counted")

	// Only the overlay's tests: less of the built-in policy is covered.
	few := cover.New()
	p, err = policy.CompileWith(ctx, starterWith(t, nil), policy.Overlay, policy.TestOptions{Coverage: few, Run: "team_test"})
	require.NoError(t, err)
	assert.Less(t, few.Report(p.Modules()).Coverage, report.Coverage)
}

// Trace keeps each test's evaluation, which OPA's pretty reporter prints
// for a failure.
func TestCompileWithTrace(t *testing.T) {
	broken := starterWith(t, map[string]string{"broken_test.rego": failingTest})
	_, err := policy.CompileWith(ctx, broken, policy.Overlay, policy.TestOptions{Run: "broken_test", Trace: true})
	var failed *policy.TestsFailedError
	require.ErrorAs(t, err, &failed)
	assert.NotEmpty(t, failed.Results[0].OPA.Trace)

	_, err = policy.CompileWith(ctx, broken, policy.Overlay, policy.TestOptions{Run: "broken_test"})
	require.ErrorAs(t, err, &failed)
	assert.Empty(t, failed.Results[0].OPA.Trace)
	assert.True(t, strings.HasPrefix(failed.Results[0].Location, "broken_test.rego:"))
}
