package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The built binary: a group command given an unknown subcommand exits
// with status 1 and its usage, every usage line names this program, not
// caddy, and the root's and the replaced commands' help and version are
// the gateway's, however they are asked for.
func TestCommandLine(t *testing.T) {
	t.Parallel()
	bin := buildGateway(t)
	run := func(args ...string) (string, int) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode()
		}
		require.NoError(t, err, "%v", args)
		return string(out), 0
	}

	for group, args := range map[string][]string{
		"accounts": {"accounts", "bogus"}, "policy": {"policy", "bogus"}, "mirror": {"mirror", "bogus"},
		"mirror dead-letters": {"mirror", "dead-letters", "bogus"}, "accounts ": {"accounts"},
	} {
		out, code := run(args...)
		assert.Equal(t, 1, code, "%v: %s", args, out)
		assert.Contains(t, out, "Usage:\n  restcomm-gateway "+strings.TrimSpace(group)+" ", "%v", args)
	}

	for _, args := range [][]string{
		{"accounts", "--help"}, {"accounts", "seed", "--help"}, {"accounts", "unblock", "--help"},
		{"policy", "test", "--help"}, {"mirror", "dead-letters", "list", "--help"}, {"up", "--help"}, {"bench", "--help"},
	} {
		out, code := run(args...)
		assert.Equal(t, 0, code, "%v: %s", args, out)
		assert.Contains(t, out, "Usage:\n  restcomm-gateway "+args[0], "%v", args)
		assert.NotContains(t, out, "\n  caddy ", "%v", args)
	}

	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		out, code := run(args...)
		assert.Equal(t, 0, code, "%v: %s", args, out)
		assert.True(t, strings.HasPrefix(out, "restcomm-gateway is Caddy with the restcomm handler"), "%v: %s", args, out)
		assert.Contains(t, out, "  up ", "%v: the gateway's own commands are listed", args)
		assert.NotContains(t, out, "Caddy is an extensible server platform", "%v", args)
		assert.NotContains(t, out, "$ caddy ", "%v", args)
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, code := run(args...)
		assert.Equal(t, 0, code, "%v: %s", args, out)
		assert.Regexp(t, `^restcomm-gateway \S+ \(commit \S+\)\nv2\.`, out, "%v", args)
	}
	for _, args := range [][]string{{"version", "--help"}, {"build-info", "--help"}} {
		out, code := run(args...)
		assert.Equal(t, 0, code, "%v: %s", args, out)
		assert.Contains(t, out, "Prints the version of restcomm-gateway", "%v", args)
	}
}
