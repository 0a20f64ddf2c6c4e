package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/policy"
)

// runCommand runs `restcomm-gateway <name> <args>` as registered with
// Caddy's command line, and returns everything it wrote, on standard
// output and standard error, and its error.
func runCommand(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	c, ok := caddycmd.Commands()[name]
	require.True(t, ok, "the %s command is registered", name)
	cmd := &cobra.Command{Use: c.Name, Short: c.Short}
	c.CobraFunc(cmd)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// exitStatus is the status the program exits with after a command that
// returned err: Caddy's Main exits with that of the error
// caddycmd.WrapCommandFuncForCobra makes, 1 for any other error.
func exitStatus(err error) int {
	var e *exitStatusError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return e.status
	}
	return 1
}

func TestPolicyTestCommand(t *testing.T) {
	t.Parallel()
	t.Run("the starter overlay passes", func(t *testing.T) {
		dir := starterOverlay(t)
		out, err := runCommand(t, "policy", "test", dir)
		require.NoError(t, err, out)
		assert.Regexp(t, `^PASS: (\d+)/\d+\npolicy .*: OK, revision [0-9a-f]{12}, \d+ tests passed\n$`, out, "OPA's summary, then the gateway's")
		assert.NotContains(t, out, "FAIL")
		m := regexp.MustCompile(`PASS: (\d+)/(\d+)\n.*, (\d+) tests passed`).FindStringSubmatch(out)
		require.NotNil(t, m)
		assert.Equal(t, m[1], m[2])
		assert.Equal(t, m[1], m[3])
	})

	t.Run("-v prints every test with its result and time", func(t *testing.T) {
		out, err := runCommand(t, "policy", "test", "-v", starterOverlay(t))
		require.NoError(t, err, out)
		assert.Regexp(t, `builtin:restcomm/authz_test.rego:\d+:\ndata.restcomm.authz_test.test_no_credentials_is_401: PASS \(\d`, out)
		assert.Contains(t, out, "data.restcomm.permissions_test.test_wildcards: PASS (")
		assert.Regexp(t, `team_test.rego:\d+:\ndata.restcomm.team_test.test_a_blocked_network_is_refused: PASS \(`, out)
		assert.Regexp(t, `PASS: \d+/\d+\npolicy .*: OK, revision [0-9a-f]{12}, \d+ tests passed\n$`, out)
		assert.NotContains(t, out, "FAIL")
	})

	t.Run("each worked example passes", func(t *testing.T) {
		for _, name := range []string{"auditor", "networks", "org-block", "own-subtree", "org-lookup"} {
			out, err := runCommand(t, "policy", "test", "-v", filepath.Join("..", "policy", "examples", name))
			require.NoError(t, err, out)
			assert.Contains(t, out, "data.restcomm."+strings.ReplaceAll(name, "-", "_")+"_test.")
		}
	})

	t.Run("modify reach above the caller passes with a warning", func(t *testing.T) {
		dir := starterOverlay(t)
		writeFile(t, filepath.Join(dir, "support.rego"), "package restcomm.overlay.support\n\n"+
			"may_modify_target if input.caller.role == \"Support\"\n\nmay_modify_above if input.caller.role == \"Support\"\n")
		writeFile(t, filepath.Join(dir, "lookup.rego"), "package restcomm.overlay.lookup\n\n"+
			"may_operate_on_target if input.caller.organization_sid == input.target.organization_sid\n")
		out, err := runCommand(t, "policy", "test", dir)
		require.NoError(t, err, out)
		assert.Contains(t, out, "WARN  support.rego:5: may_modify_above grants modify reach over accounts above the caller "+
			"(its ancestors, Super Admins, accounts whose role holds more than the caller's): whomever it holds for may set "+
			"their passwords and log in as them\n")
		assert.Contains(t, out, "WARN  lookup.rego:3: may_operate_on_target grants read reach only")
		assert.Regexp(t, `WARN  [^\n]+\npolicy .*: OK, revision [0-9a-f]{12}, \d+ tests passed\n$`, out)

		out, err = runCommand(t, "policy", "test", starterOverlay(t))
		require.NoError(t, err, out)
		assert.NotContains(t, out, "WARN")
	})

	t.Run("the shipped policy passes as a replacement", func(t *testing.T) {
		dir := copyPolicy(t)
		out, err := runCommand(t, "policy", "test", "-v", "--mode", "replace", dir)
		require.NoError(t, err, out)
		assert.Regexp(t, `\nrestcomm/authz_test.rego:\d+:\ndata.restcomm.authz_test.test_no_credentials_is_401: PASS`, out)
		assert.Contains(t, out, "data.restcomm.permissions_test.test_wildcards: PASS")
		assert.Regexp(t, `policy .*: OK, revision [0-9a-f]{12}, \d+ tests passed\n$`, out)
		assert.NotContains(t, out, "FAIL")

		// It is no overlay: it would decide itself.
		_, err = runCommand(t, "policy", "test", dir)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "an overlay may not define data.restcomm.authz.decision itself")
		assert.Equal(t, 1, exitStatus(err), "refused before any test runs: status 1")
	})

	t.Run("a failing test refuses the directory with status 2", func(t *testing.T) {
		dir := copyPolicy(t)
		editFile(t, filepath.Join(dir, "restcomm", "authz.rego"),
			`status_admits_path if input.caller.status == "active"`,
			`status_admits_path if input.caller.status in {"active", "suspended"}`)
		out, err := runCommand(t, "policy", "test", "--mode=replace", dir)
		require.Error(t, err)
		assert.Equal(t, 2, exitStatus(err))
		assert.Regexp(t, `refused: 2 of \d+ tests failed`, err.Error())
		assert.Regexp(t, `restcomm/authz_test.rego:\d+:\ndata.restcomm.authz_test.test_unprotected_passthrough_identity_only_past_the_gate: FAIL \(`, out)
		assert.Contains(t, out, "data.restcomm.authz_test.test_suspended_and_closed_are_not_active: FAIL (")
		assert.NotContains(t, out, "test_no_credentials_is_401", "a passing test is not listed without -v")
		assert.Regexp(t, `\nPASS: \d+/\d+\nFAIL: 2/\d+\n`, out)

		overlay := starterOverlay(t)
		editFile(t, filepath.Join(overlay, "team.rego"), `"Network is blocked"`, `"Blocked"`)
		out, err = runCommand(t, "policy", "test", "-v", overlay)
		require.Error(t, err)
		assert.Equal(t, 2, exitStatus(err))
		assert.Regexp(t, `refused: 1 of \d+ tests failed`, err.Error())
		assert.Regexp(t, `team_test.rego:\d+:\ndata.restcomm.team_test.test_a_blocked_network_is_refused: FAIL`, out)
		assert.Contains(t, out, "data.restcomm.authz_test.test_no_credentials_is_401: PASS (")
		assert.Contains(t, out, "FAILURES\n", "-v: the failure's trace")

		// --run leaves the failing test out: what runs passes.
		out, err = runCommand(t, "policy", "test", "--run", "authz_test", overlay)
		require.NoError(t, err, out)
		assert.Contains(t, out, `tests passed (those matching "authz_test")`)
	})

	t.Run("a test that errors is reported", func(t *testing.T) {
		dir := starterOverlay(t)
		writeFile(t, filepath.Join(dir, "extra_test.rego"),
			"package restcomm.extra_test\n\ntest_divides if {\n\tprint(\"dividing\")\n\t1 / count([]) == 1\n}\n")
		out, err := runCommand(t, "policy", "test", dir)
		require.Error(t, err)
		assert.Equal(t, 2, exitStatus(err))
		assert.Contains(t, out, "data.restcomm.extra_test.test_divides: FAIL")
		assert.Contains(t, out, "  dividing\n", "what it printed")
		assert.Contains(t, out, "extra_test.rego:5: eval_builtin_error: div: divide by zero\n")
		assert.Regexp(t, `\nERROR: 1/\d+\n`, out)
	})

	t.Run("a syntax error refuses the directory with status 1", func(t *testing.T) {
		dir := starterOverlay(t)
		editFile(t, filepath.Join(dir, "team.rego"), "deny contains {", "deny contains {{")
		out, err := runCommand(t, "policy", "test", dir)
		require.Error(t, err)
		assert.Equal(t, 1, exitStatus(err))
		assert.Contains(t, err.Error(), "refused")
		assert.Contains(t, err.Error(), "team.rego:")
		assert.NotContains(t, out, "PASS")
	})

	t.Run("a directory that is not there", func(t *testing.T) {
		_, err := runCommand(t, "policy", "test", filepath.Join(t.TempDir(), "missing"))
		assert.ErrorContains(t, err, "no such file or directory")
		assert.Equal(t, 1, exitStatus(err))
	})

	t.Run("usage", func(t *testing.T) {
		_, err := runCommand(t, "policy", "test")
		assert.Error(t, err)
		_, err = runCommand(t, "policy", "test", "--mode", "merge", starterOverlay(t))
		assert.ErrorContains(t, err, `policy mode "merge"`)
		assert.Equal(t, 1, exitStatus(err))
		_, err = runCommand(t, "policy", "test", "--run", "(", starterOverlay(t))
		assert.ErrorContains(t, err, "--run")
		assert.Equal(t, 1, exitStatus(err))
		_, err = runCommand(t, "policy", "test", "--format", "xml", starterOverlay(t))
		assert.ErrorContains(t, err, `--format "xml"`)
		assert.Equal(t, 1, exitStatus(err))
		_, err = runCommand(t, "policy", "test", "--threshold", "101", starterOverlay(t))
		assert.ErrorContains(t, err, "--threshold 101")
		assert.Equal(t, 1, exitStatus(err))
		_, err = runCommand(t, "policy", "test", "--timeout", "-1s", starterOverlay(t))
		assert.ErrorContains(t, err, "--timeout -1s")
		assert.Equal(t, 1, exitStatus(err))
		_, err = runCommand(t, "policy", "test", "--bogus", starterOverlay(t))
		assert.Error(t, err)
		assert.Equal(t, 1, exitStatus(err))
		out, err := runCommand(t, "policy", "test", "--help")
		require.NoError(t, err)
		assert.True(t, strings.Contains(out, "policy test <dir>"), out)
		for _, flag := range []string{"--run", "--verbose", "--format", "--coverage", "--threshold", "--timeout", "--mode"} {
			assert.Contains(t, out, flag)
		}
	})
}

// --run selects tests as opa test --run does: the built-in policy's and
// the overlay's by the same expression.
func TestPolicyTestRun(t *testing.T) {
	t.Parallel()
	out, err := runCommand(t, "policy", "test", "-v", "--run", `team_test\.test_a_blocked`, starterOverlay(t))
	require.NoError(t, err, out)
	assert.Contains(t, out, "data.restcomm.team_test.test_a_blocked_network_is_refused: PASS")
	assert.NotContains(t, out, "authz_test")
	assert.NotContains(t, out, "test_other_networks_pass")
	assert.Contains(t, out, "PASS: 1/1\n")
	assert.Contains(t, out, `1 tests passed (those matching "team_test\\.test_a_blocked")`)

	out, err = runCommand(t, "policy", "test", "-r", "nothing_is_named_so", starterOverlay(t))
	require.NoError(t, err, out)
	assert.Contains(t, out, "0 tests passed")
}

// A todo_ test is skipped, as opa test skips it, and fails nothing: the
// gateway accepts the directory (opa test would exit 2 without
// --exit-zero-on-skipped).
func TestPolicyTestSkipped(t *testing.T) {
	t.Parallel()
	dir := starterOverlay(t)
	writeFile(t, filepath.Join(dir, "later_test.rego"), "package restcomm.later_test\n\ntodo_test_later if {\n\tfalse\n}\n")
	out, err := runCommand(t, "policy", "test", dir)
	require.NoError(t, err, out)
	assert.Regexp(t, `\nSKIPPED: 1/\d+\n`, out)
	assert.Contains(t, out, "data.restcomm.later_test.todo_test_later: SKIPPED")
}

// --format json is OPA's JSON report of the results, alone on standard
// output; the gateway's summary goes to standard error.
func TestPolicyTestJSON(t *testing.T) {
	t.Parallel()
	c := caddycmd.Commands()["policy"]
	cmd := &cobra.Command{Use: c.Name}
	c.CobraFunc(cmd)
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"test", "--format", "json", starterOverlay(t)})
	require.NoError(t, cmd.ExecuteContext(context.Background()), stderr.String())
	var results []struct {
		Location struct {
			File string `json:"file"`
			Row  int    `json:"row"`
		} `json:"location"`
		Package  string `json:"package"`
		Name     string `json:"name"`
		Fail     bool   `json:"fail"`
		Duration int64  `json:"duration"`
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &results), stdout.String())
	require.NotEmpty(t, results)
	names := map[string]bool{}
	for _, r := range results {
		assert.False(t, r.Fail, r.Name)
		assert.NotZero(t, r.Location.Row)
		names[r.Package+"."+r.Name] = true
	}
	assert.True(t, names["data.restcomm.team_test.test_a_blocked_network_is_refused"])
	assert.True(t, names["data.restcomm.authz_test.test_no_credentials_is_401"])
	assert.Regexp(t, `policy .*: OK, revision [0-9a-f]{12}, \d+ tests passed\n$`, stderr.String())

	// A failure is in the report, with status 2.
	dir := starterOverlay(t)
	editFile(t, filepath.Join(dir, "team.rego"), `"Network is blocked"`, `"Blocked"`)
	out, err := runCommand(t, "policy", "test", "--format=json", "--run", "team_test", dir)
	require.Error(t, err)
	assert.Equal(t, 2, exitStatus(err))
	results = nil
	require.NoError(t, json.Unmarshal([]byte(out[:strings.LastIndex(out, "]")+1]), &results), out)
	failed := 0
	for _, r := range results {
		if r.Fail {
			failed++
			assert.Equal(t, "test_a_blocked_network_is_refused", r.Name)
		}
	}
	assert.Equal(t, 1, failed)
}

// --coverage reports, per file and in all, what the tests evaluate of the
// policy's rule files; --threshold fails below a figure, with status 2.
func TestPolicyTestCoverage(t *testing.T) {
	t.Parallel()
	dir := starterOverlay(t)
	out, err := runCommand(t, "policy", "test", "--coverage", dir)
	require.NoError(t, err, out)
	assert.Regexp(t, `COVERAGE +\d+\.\d\d%  builtin:restcomm/authz.rego \(\d+ of \d+ lines\)\n`, out)
	assert.Regexp(t, `COVERAGE +\d+\.\d\d%  team.rego \(\d+ of \d+ lines\)\n`, out)
	assert.NotContains(t, out, "_test.rego (", "tests are not counted")
	m := regexp.MustCompile(`COVERAGE +(\d+\.\d\d)%  \(\d+ of \d+ lines\)\n`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	total, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	assert.Greater(t, total, 50.0)
	assert.Regexp(t, `tests passed, coverage `+regexp.QuoteMeta(m[1])+`%\n$`, out)

	out, err = runCommand(t, "policy", "test", "--threshold", strconv.FormatFloat(total-1, 'f', 2, 64), dir)
	require.NoError(t, err, out)
	assert.Contains(t, out, "COVERAGE", "--threshold implies --coverage")

	out, err = runCommand(t, "policy", "test", "--coverage", "--threshold", "100", dir)
	require.Error(t, err, out)
	assert.Equal(t, 2, exitStatus(err))
	assert.Contains(t, err.Error(), "coverage "+m[1]+"% is below the threshold 100%")

	// --format json: OPA's JSON coverage report.
	out, err = runCommand(t, "policy", "test", "--coverage", "--format", "json", dir)
	require.NoError(t, err, out)
	var report struct {
		Files    map[string]json.RawMessage `json:"files"`
		Coverage float64                    `json:"coverage"`
	}
	require.NoError(t, json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &report), out)
	assert.Contains(t, report.Files, "builtin:restcomm/authz.rego")
	assert.Contains(t, report.Files, "team.rego")
	assert.InDelta(t, total, report.Coverage, 0.01)

	_, err = runCommand(t, "policy", "test", "--format", "json", "--threshold", "100", dir)
	require.Error(t, err)
	assert.Equal(t, 2, exitStatus(err))
	assert.Contains(t, err.Error(), "is below the threshold 100%")
}

// The program itself exits with the status of `policy test`: Caddy's Main
// is run in a child process of this test binary.
func TestPolicyTestExitStatusOfTheProgram(t *testing.T) {
	if args := os.Getenv("RESTCOMM_GATEWAY_TEST_MAIN"); args != "" {
		os.Args = append([]string{"restcomm-gateway"}, strings.Split(args, "\n")...)
		caddycmd.Main()
		os.Exit(0) // Main returns only on success
	}
	t.Parallel()
	run := func(args ...string) (string, int) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPolicyTestExitStatusOfTheProgram$")
		cmd.Env = append(os.Environ(), "RESTCOMM_GATEWAY_TEST_MAIN="+strings.Join(args, "\n"))
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode()
		}
		require.NoError(t, err, string(out))
		return string(out), 0
	}
	dir := starterOverlay(t)
	out, code := run("policy", "test", dir)
	assert.Equal(t, 0, code, out)

	broken := starterOverlay(t)
	editFile(t, filepath.Join(broken, "team.rego"), `"Network is blocked"`, `"Blocked"`)
	out, code = run("policy", "test", broken)
	assert.Equal(t, 2, code, out)
	assert.Regexp(t, `Error: policy .* refused: 1 of \d+ tests failed`, out)

	out, code = run("policy", "test", "--threshold", "100", dir)
	assert.Equal(t, 2, code, out)
	assert.Contains(t, out, "is below the threshold 100%")

	out, code = run("policy", "test", filepath.Join(dir, "missing"))
	assert.Equal(t, 1, code, out)
	out, code = run("policy", "test", "--format", "xml", dir)
	assert.Equal(t, 1, code, out)
}

func TestPolicyInitCommand(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "overlay")
	out, err := runCommand(t, "policy", "init", dir)
	require.NoError(t, err, out)
	assert.Contains(t, out, "a starter overlay")
	b, err := os.ReadFile(filepath.Join(dir, "team.rego"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "package restcomm.overlay.team")
	assert.NotContains(t, string(b), "package restcomm.authz", "not the whole built-in policy")
	_, err = os.Stat(filepath.Join(dir, "restcomm", "authz.rego"))
	assert.True(t, os.IsNotExist(err), "not the whole built-in policy")
	out, err = runCommand(t, "policy", "test", dir)
	require.NoError(t, err, out)
	_, err = runCommand(t, "policy", "init", dir)
	assert.ErrorContains(t, err, "exists", "never overwrites")

	replacement := filepath.Join(t.TempDir(), "replacement")
	out, err = runCommand(t, "policy", "init", "--mode", "replace", replacement)
	require.NoError(t, err, out)
	assert.Contains(t, out, "policy_mode replace")
	out, err = runCommand(t, "policy", "test", "--mode", "replace", replacement)
	require.NoError(t, err, out)
}

func TestPolicyShowBuiltinCommand(t *testing.T) {
	t.Parallel()
	out, err := runCommand(t, "policy", "show-builtin")
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, policy.ShowBuiltin(&b))
	assert.Equal(t, b.String(), out)
	assert.Contains(t, out, "# ==> restcomm/authz.rego <==\n")
	assert.Contains(t, out, "# ==> restcomm/extensions.rego <==\n")
}

// show-builtin --bundle writes the built-in policy as an OPA bundle that
// OPA's own loader reads, and refuses a directory that is not empty
// unless --force.
func TestPolicyShowBuiltinBundle(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "builtin")
	out, err := runCommand(t, "policy", "show-builtin", "--bundle", dir)
	require.NoError(t, err, out)
	rev, err := policy.BuiltinRevision()
	require.NoError(t, err)
	assert.Regexp(t, `^policy bundle .*: the built-in policy as an OPA bundle, revision .+\+`+rev+`, \d+ files\n$`, out)
	b, err := bundle.NewCustomReader(bundle.NewDirectoryLoader(dir)).WithRegoVersion(ast.RegoV1).Read()
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(b.Manifest.Revision, "+"+rev), b.Manifest.Revision)
	roots, err := policy.BuiltinRoots()
	require.NoError(t, err)
	require.NotNil(t, b.Manifest.Roots)
	assert.Equal(t, roots, *b.Manifest.Roots)
	assert.Len(t, b.Modules, 6)

	_, err = runCommand(t, "policy", "show-builtin", "--bundle", dir)
	assert.ErrorContains(t, err, "is not empty")
	out, err = runCommand(t, "policy", "show-builtin", "--bundle", dir, "--force")
	require.NoError(t, err, out)

	_, err = runCommand(t, "policy", "show-builtin", "--force")
	assert.ErrorContains(t, err, "--bundle")
	out, err = runCommand(t, "policy", "show-builtin", "--help")
	require.NoError(t, err)
	assert.Contains(t, out, "--bundle")
}
