package caddymodule

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
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

func TestPolicyTestCommand(t *testing.T) {
	t.Parallel()
	t.Run("the starter overlay passes", func(t *testing.T) {
		dir := starterOverlay(t)
		out, err := runCommand(t, "policy", "test", dir)
		require.NoError(t, err, out)
		assert.Contains(t, out, "PASS  data.restcomm.authz_test.test_no_credentials_is_401 (builtin:restcomm/authz_test.rego:")
		assert.Contains(t, out, "PASS  data.restcomm.permissions_test.test_wildcards")
		assert.Contains(t, out, "PASS  data.restcomm.team_test.test_a_blocked_network_is_refused (team_test.rego:")
		assert.Regexp(t, `policy .*: OK, revision [0-9a-f]{12}, \d+ tests passed\n$`, out)
		assert.NotContains(t, out, "FAIL")
	})

	t.Run("each worked example passes", func(t *testing.T) {
		for _, name := range []string{"auditor", "networks", "org-block", "own-subtree", "org-lookup"} {
			out, err := runCommand(t, "policy", "test", filepath.Join("..", "policy", "examples", name))
			require.NoError(t, err, out)
			assert.Contains(t, out, "PASS  data.restcomm."+strings.ReplaceAll(name, "-", "_")+"_test.")
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
		out, err := runCommand(t, "policy", "test", "--mode", "replace", dir)
		require.NoError(t, err, out)
		assert.Contains(t, out, "PASS  data.restcomm.authz_test.test_no_credentials_is_401 (restcomm/authz_test.rego:")
		assert.Contains(t, out, "PASS  data.restcomm.permissions_test.test_wildcards")
		assert.Regexp(t, `policy .*: OK, revision [0-9a-f]{12}, \d+ tests passed\n$`, out)
		assert.NotContains(t, out, "FAIL")

		// It is no overlay: it would decide itself.
		_, err = runCommand(t, "policy", "test", dir)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "an overlay may not define data.restcomm.authz.decision itself")
	})

	t.Run("a failing test refuses the directory", func(t *testing.T) {
		dir := copyPolicy(t)
		editFile(t, filepath.Join(dir, "restcomm", "authz.rego"),
			`status_admits_path if input.caller.status == "active"`,
			`status_admits_path if input.caller.status in {"active", "suspended"}`)
		out, err := runCommand(t, "policy", "test", "--mode=replace", dir)
		require.Error(t, err)
		assert.Regexp(t, `refused: 2 of \d+ tests failed`, err.Error())
		assert.Contains(t, out, "FAIL  data.restcomm.authz_test.test_unprotected_passthrough_identity_only_past_the_gate (restcomm/authz_test.rego:")
		assert.Contains(t, out, "FAIL  data.restcomm.authz_test.test_suspended_and_closed_are_not_active (restcomm/authz_test.rego:")
		assert.Contains(t, out, "PASS  data.restcomm.authz_test.test_no_credentials_is_401")

		overlay := starterOverlay(t)
		editFile(t, filepath.Join(overlay, "team.rego"), `"Network is blocked"`, `"Blocked"`)
		out, err = runCommand(t, "policy", "test", overlay)
		require.Error(t, err)
		assert.Regexp(t, `refused: 1 of \d+ tests failed`, err.Error())
		assert.Contains(t, out, "FAIL  data.restcomm.team_test.test_a_blocked_network_is_refused (team_test.rego:")
		assert.Contains(t, out, "PASS  data.restcomm.authz_test.test_no_credentials_is_401 (builtin:")
	})

	t.Run("a test that errors is reported", func(t *testing.T) {
		dir := starterOverlay(t)
		writeFile(t, filepath.Join(dir, "extra_test.rego"),
			"package restcomm.extra_test\n\ntest_divides if {\n\tprint(\"dividing\")\n\t1 / count([]) == 1\n}\n")
		out, err := runCommand(t, "policy", "test", dir)
		require.Error(t, err)
		assert.Contains(t, out, "ERROR data.restcomm.extra_test.test_divides")
		assert.Contains(t, out, "      | dividing\n")
	})

	t.Run("a syntax error refuses the directory", func(t *testing.T) {
		dir := starterOverlay(t)
		editFile(t, filepath.Join(dir, "team.rego"), "deny contains {", "deny contains {{")
		out, err := runCommand(t, "policy", "test", dir)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "refused")
		assert.Contains(t, err.Error(), "team.rego:")
		assert.NotContains(t, out, "PASS")
	})

	t.Run("a directory that is not there", func(t *testing.T) {
		_, err := runCommand(t, "policy", "test", filepath.Join(t.TempDir(), "missing"))
		assert.ErrorContains(t, err, "no such file or directory")
	})

	t.Run("usage", func(t *testing.T) {
		_, err := runCommand(t, "policy", "test")
		assert.Error(t, err)
		_, err = runCommand(t, "policy", "test", "--mode", "merge", starterOverlay(t))
		assert.ErrorContains(t, err, `policy mode "merge"`)
		out, err := runCommand(t, "policy", "test", "--help")
		require.NoError(t, err)
		assert.True(t, strings.Contains(out, "policy test <dir>"), out)
	})
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
