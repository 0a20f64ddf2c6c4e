package caddymodule

import (
	"context"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/version"
)

// version and build-info print the gateway's version and commit first,
// then Caddy's as Caddy prints them.
func TestVersionCommands(t *testing.T) {
	t.Parallel()
	_, caddyFull := caddy.Version()
	gateway := "restcomm-gateway " + version.Version + " (commit " + version.Get().Revision() + ")\n"
	assert.Regexp(t, `^restcomm-gateway \S+ \(commit (unknown|[0-9a-f]{40}(\+modified)?)\)\n$`, gateway)

	out, err := runCommand(t, "version")
	require.NoError(t, err)
	assert.Equal(t, gateway+caddyFull+"\n", out)

	out, err = runCommand(t, "build-info")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out, gateway), out)
	assert.Contains(t, out, "\ngo\tgo1.", "Go's build info, as Caddy prints it")
	assert.Contains(t, out, "\nbuild\tGOOS=")

	out, err = runCommand(t, "gateway-version")
	require.NoError(t, err)
	assert.Equal(t, version.Version+"\n", out)
	assert.True(t, caddycmd.Commands()["version"].Short == "Prints the gateway's version, then Caddy's")
}

// upgrade, add-package and remove-package would replace the binary with
// stock Caddy, without the restcomm module: they refuse, saying how to
// rebuild, with a non-zero exit.
func TestBinaryReplacingCommandsRefuse(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"upgrade"},
		{"upgrade", "--keep-backup"},
		{"add-package", "github.com/caddy-dns/cloudflare"},
		{"remove-package", "github.com/restcomm/restcomm-gateway"},
	} {
		out, err := runCommand(t, args[0], args[1:]...)
		require.Error(t, err, "%v", args)
		assert.Contains(t, err.Error(), args[0]+" is not available in restcomm-gateway: Caddy's "+args[0]+
			" replaces this binary with one from Caddy's download service, which does not have the restcomm module")
		assert.Contains(t, err.Error(), "./xcaddy.sh")
		assert.Contains(t, err.Error(), "go build -o restcomm-gateway ./cmd/restcomm-gateway")
		assert.NotContains(t, out, "Usage:", "the reason, not the usage")
	}
	_, err := runCommand(t, "add-package", "x")
	assert.ErrorContains(t, err, "./xcaddy.sh --with <package>[@<version>]")
}

// caddycmd.Main builds its command tree from the registrations, in their
// order, Caddy's commands first as Caddy registered them: the gateway's
// texts and commands take their place there while the tree is built, so
// that --help and --version answer with them too. The tree here is built
// as Main builds it, with stand-ins for Caddy's own commands and root.
func TestCommandTreeTakesTheGatewaysCommands(t *testing.T) {
	t.Parallel()
	root := &cobra.Command{Use: "restcomm-gateway", Long: caddy.CustomLongDescription, Version: "v2 stock Caddy",
		Example: "  $ caddy run"}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetHelpTemplate(root.HelpTemplate() + "\n" + caddyFooter)
	for _, name := range []string{"version", "build-info", "upgrade", "add-package", "remove-package", "list-modules"} {
		root.AddCommand(&cobra.Command{Use: name, Short: "Caddy's " + name, Long: "Caddy's long " + name,
			RunE: func(cmd *cobra.Command, _ []string) error {
				_, err := cmd.OutOrStdout().Write([]byte("stock Caddy's " + cmd.Name() + "\n"))
				return err
			}})
	}
	for _, name := range []string{"gateway-version", "gateway-docs"} { // as registered, one after the other
		c := caddycmd.Commands()[name]
		hook := &cobra.Command{Use: c.Name, Short: c.Short}
		c.CobraFunc(hook)
		root.AddCommand(hook)
		assert.True(t, hook.Hidden, name)
	}

	run := func(args ...string) (string, error) {
		var out strings.Builder
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		err := root.ExecuteContext(context.Background())
		return out.String(), err
	}
	gateway := "restcomm-gateway " + version.Version + " (commit "
	_, caddyFull := caddy.Version()
	out, err := run("version")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(out, gateway), out)
	out, err = run("--version")
	require.NoError(t, err)
	assert.Equal(t, version.Get().String()+"\n"+caddyFull+"\n", out)
	out, err = run("build-info")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(out, gateway), out)
	_, err = run("upgrade")
	assert.ErrorContains(t, err, "upgrade is not available in restcomm-gateway")
	_, err = run("add-package", "x")
	assert.ErrorContains(t, err, "add-package is not available in restcomm-gateway")
	_, err = run("remove-package", "x")
	assert.ErrorContains(t, err, "remove-package is not available in restcomm-gateway")
	out, err = run("list-modules")
	require.NoError(t, err)
	assert.Equal(t, "stock Caddy's list-modules\n", out, "the others stay Caddy's")

	// Every way of asking for help gives the gateway's texts.
	out, err = run("help", "upgrade")
	require.NoError(t, err)
	assert.Contains(t, out, "Rebuild it instead")
	assert.NotContains(t, out, "Caddy's long")
	_, err = run("upgrade", "--help") // its arguments, --help too, are refused with it, saying why
	assert.ErrorContains(t, err, "Rebuild it instead")
	for _, args := range [][]string{{"version", "--help"}, {"build-info", "-h"}} {
		out, err = run(args...)
		require.NoError(t, err, "%v", args)
		assert.Contains(t, out, "Prints the version of restcomm-gateway", "%v", args)
		assert.NotContains(t, out, "Caddy's long", "%v", args)
	}
	for _, args := range [][]string{{"help"}, {"--help"}} {
		out, err = run(args...)
		require.NoError(t, err, "%v", args)
		assert.True(t, strings.HasPrefix(out, "restcomm-gateway is Caddy with the restcomm handler"), "%v: %s", args, out)
		assert.Contains(t, out, "Refused: would upgrade by replacing the gateway with stock Caddy")
		assert.Contains(t, out, "Prints the gateway's version, then Caddy's")
		assert.Contains(t, out, "$ restcomm-gateway up")
		assert.NotContains(t, out, "$ caddy")
		assert.True(t, strings.HasSuffix(out, docsFooter+"\n"), "%v: %s", args, out)
		assert.NotContains(t, out, "Full documentation is available at")
	}
	out, err = run("gateway-docs")
	require.NoError(t, err)
	assert.Equal(t, docsFooter+"\n", out)
}

// restcomm_gateway_build_info{version,commit} is 1, in the config's
// registry with the gateway's other metrics, registered once however many
// handlers the config has.
func TestBuildInfoMetric(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	_, err := newMetrics(reg)
	require.NoError(t, err)
	_, err = newMetrics(reg)
	require.NoError(t, err)
	v := version.Get()
	want := `# HELP restcomm_gateway_build_info 1, labelled with the gateway's version and the commit it was built from ("+modified" with uncommitted changes, "unknown" when the build recorded none).
# TYPE restcomm_gateway_build_info gauge
restcomm_gateway_build_info{commit="` + v.Revision() + `",version="` + v.Version + `"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "restcomm_gateway_build_info"))
}
