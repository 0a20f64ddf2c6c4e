package caddymodule

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runPolicyCommand runs `restcomm-gateway policy <args>` as registered
// with Caddy's command line.
func runPolicyCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	c, ok := caddycmd.Commands()["policy"]
	require.True(t, ok, "the policy command is registered")
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
	t.Run("the shipped policy passes", func(t *testing.T) {
		dir := copyPolicy(t)
		out, err := runPolicyCommand(t, "test", dir)
		require.NoError(t, err, out)
		assert.Contains(t, out, "PASS  data.restcomm.authz_test.test_no_credentials_is_401 (restcomm/authz_test.rego:")
		assert.Contains(t, out, "PASS  data.restcomm.permissions_test.test_wildcards")
		assert.Regexp(t, `policy .*: OK, revision [0-9a-f]{12}, \d+ tests passed\n$`, out)
		assert.NotContains(t, out, "FAIL")
	})

	t.Run("a failing test refuses the directory", func(t *testing.T) {
		dir := copyPolicy(t)
		editFile(t, filepath.Join(dir, "restcomm", "authz.rego"),
			`status_admits_path if input.caller.status == "active"`,
			`status_admits_path if input.caller.status in {"active", "suspended"}`)
		out, err := runPolicyCommand(t, "test", dir)
		require.Error(t, err)
		assert.Regexp(t, `refused: 2 of \d+ tests failed`, err.Error())
		assert.Contains(t, out, "FAIL  data.restcomm.authz_test.test_unprotected_passthrough_identity_only_past_the_gate (restcomm/authz_test.rego:")
		assert.Contains(t, out, "FAIL  data.restcomm.authz_test.test_suspended_and_closed_are_not_active (restcomm/authz_test.rego:")
		assert.Contains(t, out, "PASS  data.restcomm.authz_test.test_no_credentials_is_401")
	})

	t.Run("a test that errors is reported", func(t *testing.T) {
		dir := copyPolicy(t)
		writeFile(t, filepath.Join(dir, "restcomm", "extra_test.rego"),
			"package restcomm.extra_test\n\ntest_divides if {\n\tprint(\"dividing\")\n\t1 / count([]) == 1\n}\n")
		out, err := runPolicyCommand(t, "test", dir)
		require.Error(t, err)
		assert.Contains(t, out, "ERROR data.restcomm.extra_test.test_divides")
		assert.Contains(t, out, "      | dividing\n")
	})

	t.Run("a syntax error refuses the directory", func(t *testing.T) {
		dir := copyPolicy(t)
		editFile(t, filepath.Join(dir, "restcomm", "permissions.rego"), "permitted(needed) if {", "permitted(needed) if {{")
		out, err := runPolicyCommand(t, "test", dir)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "refused")
		assert.Contains(t, err.Error(), "restcomm/permissions.rego:")
		assert.NotContains(t, out, "PASS")
	})

	t.Run("a directory that is not there", func(t *testing.T) {
		_, err := runPolicyCommand(t, "test", filepath.Join(t.TempDir(), "missing"))
		assert.ErrorContains(t, err, "no such file or directory")
	})

	t.Run("usage", func(t *testing.T) {
		_, err := runPolicyCommand(t, "test")
		assert.Error(t, err)
		out, err := runPolicyCommand(t, "test", "--help")
		require.NoError(t, err)
		assert.True(t, strings.Contains(out, "policy test <dir>"), out)
	})
}
