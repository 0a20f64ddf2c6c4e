package caddymodule

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/restcomm/restcomm-gateway/internal/version"
)

// The gateway's own version and build-info commands, its name and
// description on the command line, and the refusal of Caddy's commands
// that would replace the binary.
//
// Caddy registers version, build-info, upgrade, add-package and
// remove-package itself, and its RegisterCommand refuses a second command
// of a name (it panics). So the gateway replaces them in the two places
// Caddy keeps them: the registry (caddycmd.Commands, the map itself; this
// package's init runs after Caddy's, whose package it imports), and the
// command tree that caddycmd.Main builds from the registrations, in the
// order they were made: Caddy's commands first, as they were registered.
// Two hidden commands, registered one after the other, reach that tree
// while it is built: the first is in the tree by the time the second is
// made, and through it the second finds the root and puts the gateway's
// texts in place (replaceCommands), before anything is parsed, so that
// `--help`, `--version` and `help` all answer with them.

// replaced are the gateway's commands in place of Caddy's, by name.
var replaced = map[string]caddycmd.Command{
	"version": {
		Name:  "version",
		Short: "Prints the gateway's version, then Caddy's",
		Long: `
Prints the version of restcomm-gateway and the commit it was built from
("+modified" when the work tree had uncommitted changes, "unknown" when the
build recorded none), then the version of Caddy it is built on, as Caddy
prints it.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Args = cobra.NoArgs
			cmd.RunE = func(cmd *cobra.Command, _ []string) error {
				_, full := caddy.Version()
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n", version.Get(), full)
				return nil
			}
		},
	},
	"build-info": {
		Name:  "build-info",
		Short: "Prints the gateway's version, then information about this build",
		Long: `
Prints the version of restcomm-gateway and the commit it was built from,
then Go's build information (Caddy's and every other module's version,
the build settings), as Caddy prints it.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Args = cobra.NoArgs
			cmd.RunE = func(cmd *cobra.Command, _ []string) error {
				bi, ok := debug.ReadBuildInfo()
				if !ok {
					cmd.SilenceUsage = true
					return errors.New("no build information")
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n", version.Get(), bi)
				return nil
			}
		},
	},
	"upgrade":        refusal("upgrade", "upgrade", ""),
	"add-package":    refusal("add-package", "add packages", "to add a Caddy package: ./xcaddy.sh --with <package>[@<version>]"),
	"remove-package": refusal("remove-package", "remove packages", "to leave out a package: ./xcaddy.sh without its --with"),
}

// rebuild says how this binary is built.
const rebuild = "Rebuild it instead, from a checkout of the restcomm-gateway version you want: " +
	"./xcaddy.sh (Caddy at the version go.mod pins, its standard modules and the restcomm module), " +
	"or go build -o restcomm-gateway ./cmd/restcomm-gateway"

// refusal is a command of Caddy's that downloads a new binary from Caddy's
// download service and puts it in place of this one: that service builds
// stock Caddy, which does not have the restcomm module, so the binary
// would no longer run the gateway's Caddyfile. It refuses, saying how to
// rebuild, and exits with status 1.
func refusal(name, what, hint string) caddycmd.Command {
	msg := name + " is not available in restcomm-gateway: Caddy's " + name + " replaces this binary with one " +
		"from Caddy's download service, which does not have the restcomm module, so the gateway would no " +
		"longer start with its Caddyfile. " + rebuild
	if hint != "" {
		msg += "; " + hint
	}
	return caddycmd.Command{
		Name:  name,
		Short: "Refused: would " + what + " by replacing the gateway with stock Caddy",
		Long:  "\n" + msg + ".\n",
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Args = cobra.ArbitraryArgs
			cmd.DisableFlagParsing = true // its arguments are refused with it
			cmd.RunE = func(cmd *cobra.Command, _ []string) error {
				cmd.SilenceUsage = true
				return errors.New(msg)
			}
		},
	}
}

func init() {
	// Read when caddycmd.Main builds the command tree, after every init.
	caddy.CustomBinaryName = "restcomm-gateway"
	caddy.CustomLongDescription = rootLong

	registry := caddycmd.Commands()
	for name, c := range replaced {
		if _, ok := registry[name]; !ok {
			panic("caddymodule: Caddy no longer registers the " + name + " command")
		}
		registry[name] = c
	}
	var inTree *cobra.Command // gateway-version's, once the tree holds it
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "gateway-version",
		Short: "Prints the gateway's version alone",
		Long: `
Prints the version of restcomm-gateway alone (for scripts); "version"
prints it with its commit and Caddy's version.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Hidden = true
			cmd.Args = cobra.NoArgs
			cmd.RunE = func(cmd *cobra.Command, _ []string) error {
				fmt.Fprintln(cmd.OutOrStdout(), version.Get().Version)
				return nil
			}
			inTree = cmd
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "gateway-docs",
		Short: "Says where the gateway's documentation is",
		Long:  "\n" + docsFooter + "\n",
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Hidden = true
			cmd.Args = cobra.NoArgs
			cmd.RunE = func(cmd *cobra.Command, _ []string) error {
				fmt.Fprintln(cmd.OutOrStdout(), docsFooter)
				return nil
			}
			if inTree != nil && inTree.HasParent() {
				replaceCommands(inTree.Root())
			}
		},
	})
}

// rootLong is `restcomm-gateway --help`'s description, in place of Caddy's.
const rootLong = `restcomm-gateway is Caddy with the restcomm handler: a drop-in front
door for an existing RestComm Connect server. It terminates TLS,
authenticates every call to RestComm's REST API (/restcomm/2012-04-24/)
with RestComm's own credentials, authorizes it with OPA Rego policies,
serves the Accounts and Organizations APIs itself from Redis, and passes
every other path on to RestComm with reverse_proxy.

To run it, with a Caddyfile that has a restcomm block:

	- 'restcomm-gateway up' runs it in the foreground, after starting a
	  local redis-server when none answers at the default address
	  (in the build of cmd/restcomm-gateway; an xcaddy build lacks it).
	- 'restcomm-gateway run --config Caddyfile' runs it as Caddy runs,
	  with the Redis the Caddyfile names.
	- 'restcomm-gateway reload --config Caddyfile' gives the running
	  gateway a new configuration without dropping a request.

Its own commands work with what the gateway keeps: 'accounts' (seed,
import from RestComm, export, unblock), 'policy' (init, test,
show-builtin) and 'mirror' (status, verify, dead letters). The others are
Caddy's, as Caddy documents them, except upgrade, add-package and
remove-package, which refuse: they would replace this binary with stock
Caddy, which has no restcomm handler.

'restcomm-gateway <command> --help' says more about each command.`

// docsFooter ends every help text, in place of Caddy's pointer to its own
// command-line documentation.
const docsFooter = `Documentation: README.md and docs/ in the restcomm-gateway repository;
Caddy's own commands: https://caddyserver.com/docs/command-line`

// caddyFooter is what Caddy appends to the root's help template.
const caddyFooter = "Full documentation is available at:\nhttps://caddyserver.com/docs/command-line\n"

// replaceCommands puts the gateway's texts in the command tree under root:
// its version, examples and documentation footer, and its commands in
// place of Caddy's.
func replaceCommands(root *cobra.Command) {
	_, caddyFull := caddy.Version()
	root.Version = version.Get().String() + "\n" + caddyFull
	root.Example = `  $ restcomm-gateway up
  $ restcomm-gateway run --config Caddyfile
  $ restcomm-gateway reload --config Caddyfile
  $ restcomm-gateway policy test ./policy-dir
  $ restcomm-gateway accounts import --from mysql://user:password@db:3306/restcomm`
	root.SetHelpTemplate(strings.TrimSuffix(root.HelpTemplate(), caddyFooter) + docsFooter + "\n")
	for _, c := range root.Commands() {
		r, ok := replaced[c.Name()]
		if !ok {
			continue
		}
		c.Use = strings.TrimSpace(r.Name + " " + r.Usage)
		c.Short, c.Long = r.Short, r.Long
		c.Run, c.RunE = nil, nil
		r.CobraFunc(c)
	}
}
