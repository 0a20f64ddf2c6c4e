package caddymodule

import (
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A command that only groups subcommands fails, with its usage, on a word
// that names none of them, or on none at all: a script's typo is no
// success. Its --help still succeeds.
func TestGroupCommandsRefuseUnknownSubcommands(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		group []string // the words before the unknown one
		known string   // a subcommand its usage lists
	}{
		{"accounts", nil, "unblock"},
		{"policy", nil, "show-builtin"},
		{"mirror", nil, "dead-letters"},
		{"mirror", []string{"dead-letters"}, "retry"},
	} {
		out, err := runCommand(t, c.name, append(c.group, "bogus")...)
		require.Error(t, err, "%s %v bogus", c.name, c.group)
		assert.Contains(t, err.Error(), `unknown command "bogus"`)
		assert.Contains(t, out, "Usage:", "the usage is printed")
		assert.Contains(t, out, "Available Commands:")
		assert.Contains(t, out, c.known)

		out, err = runCommand(t, c.name, c.group...)
		require.Error(t, err, "%s %v", c.name, c.group)
		assert.Contains(t, err.Error(), "a subcommand is required")
		assert.Contains(t, out, "Usage:")

		out, err = runCommand(t, c.name, append(c.group, "--help")...)
		require.NoError(t, err, "%s %v --help", c.name, c.group)
		assert.Contains(t, out, c.known)
	}

	_, err := runCommand(t, "accounts", "sede")
	assert.ErrorContains(t, err, "did you mean seed?")
}

// The help of accounts names every subcommand it has, not seeding alone.
func TestAccountsHelpIsCurrent(t *testing.T) {
	t.Parallel()
	c := caddycmd.Commands()["accounts"]
	for _, sub := range []string{`"accounts seed"`, `"accounts import`, `"accounts export"`, `"accounts unblock`} {
		assert.Contains(t, c.Long, sub)
	}
	for _, word := range []string{"Seeds", "imports", "exports", "failed-login blocks"} {
		assert.Contains(t, c.Short, word)
	}
}
