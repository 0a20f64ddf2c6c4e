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
// with status 1 and its usage, and every usage line names this program,
// not caddy.
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
}
