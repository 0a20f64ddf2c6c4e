package caddymodule

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goCommand is the go command on PATH; go test puts the toolchain's that
// runs it first there.
func goCommand(t *testing.T) string {
	p, err := exec.LookPath("go")
	require.NoError(t, err, "the go command")
	return p
}

// The Accounts and Organizations service, and everything it is built on,
// import no Caddy: caddymodule alone adapts it to Caddy.
func TestServiceImportsNoCaddy(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{
		"../internal/accountsapi", "../internal/javacompat", "../internal/render", "../internal/restpath", "../internal/password",
		"../store", "../policy",
	} {
		out, err := exec.Command(goCommand(t), "list", "-deps", pkg).CombinedOutput()
		require.NoError(t, err, "go list -deps %s: %s", pkg, out)
		deps := strings.Fields(string(out))
		require.NotEmpty(t, deps, pkg)
		for _, dep := range deps {
			assert.False(t, strings.HasPrefix(dep, "github.com/caddyserver/"), "%s depends on %s", pkg, dep)
		}
	}
	// and the check sees Caddy where it is
	out, err := exec.Command(goCommand(t), "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, strings.Fields(string(out)), "github.com/caddyserver/caddy/v2")
}
