package caddymodule

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/restcomm/restcomm-gateway/internal/version"
)

// The gateway's own version and build-info commands, and the refusal of
// Caddy's commands that would replace the binary.
//
// Caddy registers version, build-info, upgrade, add-package and
// remove-package itself, and its RegisterCommand refuses a second command
// of a name (it panics). So the gateway replaces them in the two places
// Caddy keeps them: the registry (caddycmd.Commands, the map itself; this
// package's init runs after Caddy's, whose package it imports), and the
// command tree that caddycmd.Main builds from the registrations, which
// holds Caddy's commands as they were registered. For that tree, the
// hidden gateway-version command, built into it like every registered
// command, swaps the replaced commands' text and function in place once
// the command line is parsed (cobra.OnInitialize), before the chosen
// command runs. Only `<command> --help`, answered before that, still shows
// Caddy's text; `help <command>` shows the gateway's.

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
	registry := caddycmd.Commands()
	for name, c := range replaced {
		if _, ok := registry[name]; !ok {
			panic("caddymodule: Caddy no longer registers the " + name + " command")
		}
		registry[name] = c
	}
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
			var mu sync.Mutex
			done := false
			cobra.OnInitialize(func() {
				mu.Lock()
				defer mu.Unlock()
				if !done && cmd.HasParent() {
					done = true
					replaceCommands(cmd.Root())
				}
			})
		},
	})
}

// replaceCommands puts the gateway's commands in place of Caddy's in the
// command tree under root.
func replaceCommands(root *cobra.Command) {
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
