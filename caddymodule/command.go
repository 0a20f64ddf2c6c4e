package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/restcomm/restcomm-gateway/policy"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "policy",
		Usage: "init|test <dir> | show-builtin",
		Short: "Checks a RestComm gateway policy directory",
		Long: `
Works with the policy directories of the restcomm handler (policy_dir).
The built-in policy is RestComm's own rules; a policy directory is an
overlay of it (policy_mode overlay, the default) or a complete policy that
replaces it (policy_mode replace).

"policy init <dir>" writes a starter overlay into the directory: a
commented rule of an extension point, its data and its test. With
--mode replace it writes the whole built-in policy instead, the starting
point of a replacement. It never overwrites a file.

"policy test <dir>" compiles the directory exactly as the gateway would
load it (as an overlay, or with --mode replace as a complete policy) and
runs the tests: an overlay's with the built-in policy's own. It prints
each result and exits with status 0 when the gateway would accept the
directory, and 1 (with the reason) when it would refuse it and keep its
last good policy. An accepted overlay that grants modify reach above the
caller (may_modify_above), or uses may_operate_on_target (read reach
only), is accepted with a WARN line for each, as the gateway logs them.

"policy show-builtin" prints the built-in policy, every file of it.
`,
		CobraFunc: func(cmd *cobra.Command) {
			var initMode, testMode string
			initCmd := &cobra.Command{
				Use:   "init <dir>",
				Short: "Writes a starter overlay (or the built-in policy) into a directory",
				Args:  cobra.ExactArgs(1),
				RunE: func(cmd *cobra.Command, args []string) error {
					cmd.SilenceUsage = true
					return policyInit(cmd.OutOrStdout(), args[0], initMode)
				},
			}
			initCmd.Flags().StringVar(&initMode, "mode", string(policy.Overlay), "overlay or replace, as the Caddyfile's policy_mode")
			testCmd := &cobra.Command{
				Use:   "test <dir>",
				Short: "Compiles a policy directory and runs its tests",
				Args:  cobra.ExactArgs(1),
				RunE: func(cmd *cobra.Command, args []string) error {
					if err := policyTest(cmd.Context(), cmd.OutOrStdout(), args[0], testMode); err != nil {
						cmd.SilenceUsage = true
						return err
					}
					return nil
				},
			}
			testCmd.Flags().StringVar(&testMode, "mode", string(policy.Overlay), "overlay or replace, as the Caddyfile's policy_mode")
			cmd.AddCommand(initCmd, testCmd, &cobra.Command{
				Use:   "show-builtin",
				Short: "Prints the built-in policy",
				Args:  cobra.NoArgs,
				RunE: func(cmd *cobra.Command, _ []string) error {
					return policy.ShowBuiltin(cmd.OutOrStdout())
				},
			})
			requireSubcommand(cmd)
		},
	})
}

// requireSubcommand makes cmd, a command that only groups subcommands,
// refuse to run without one of them: left alone, cobra prints the help of
// such a command and exits with status 0 for any word after it, so that a
// script's typo ("accounts sede") would pass for success. It prints the
// usage on standard error and fails, naming the unknown word, as the root
// command does for an unknown command. --help still exits with status 0.
func requireSubcommand(cmd *cobra.Command) {
	cmd.Args = cobra.ArbitraryArgs
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, set only when it suggests itself
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cmd.SilenceUsage = true // printed here, once
		fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
		if len(args) == 0 {
			return fmt.Errorf("%s: a subcommand is required", cmd.CommandPath())
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return errors.New(msg)
	}
}

// interruptible is the context of a long-running subcommand (an import, an
// export, a verify): Ctrl-C cancels it, so that the command stops cleanly.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

// policyInit writes the starting point of a policy directory of mode.
func policyInit(w io.Writer, dir, mode string) error {
	m, err := policy.ParseMode(mode)
	if err != nil {
		return err
	}
	if m == policy.Replace {
		if err := policy.WriteDefault(dir); err != nil {
			return err
		}
		fmt.Fprintf(w, "policy %s: the built-in policy, ready to edit; load it with policy_mode replace\n", dir)
		return nil
	}
	if err := policy.WriteStarter(dir); err != nil {
		return err
	}
	fmt.Fprintf(w, "policy %s: a starter overlay of the built-in policy, ready to edit\n", dir)
	return nil
}

// policyTest compiles dir in mode and runs its tests as the gateway does
// before it puts a policy in force, writing one line per test and a
// summary. The error says why the gateway would refuse the directory.
func policyTest(ctx context.Context, w io.Writer, dir, mode string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("policy %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("policy %s: not a directory", dir)
	}
	m, err := policy.ParseMode(mode)
	if err != nil {
		return err
	}
	p, err := policy.CompileMode(ctx, os.DirFS(dir), m)
	var failed *policy.TestsFailedError
	switch {
	case errors.As(err, &failed):
		printTests(w, failed.Results)
		n := 0
		for _, r := range failed.Results {
			if !r.Passed && !r.Skipped {
				n++
			}
		}
		return fmt.Errorf("policy %s refused: %d of %d tests failed", dir, n, len(failed.Results))
	case err != nil:
		return fmt.Errorf("policy %s refused: %w", dir, err)
	}
	printTests(w, p.TestResults())
	for _, warning := range p.Warnings() {
		fmt.Fprintf(w, "WARN  %s\n", warning)
	}
	fmt.Fprintf(w, "policy %s: OK, revision %s, %d tests passed\n", dir, p.Revision(), p.Tests())
	return nil
}

func printTests(w io.Writer, results []policy.TestResult) {
	for _, r := range results {
		outcome := "PASS"
		switch {
		case r.Skipped:
			outcome = "SKIP"
		case r.Err != "":
			outcome = "ERROR"
		case !r.Passed:
			outcome = "FAIL"
		}
		fmt.Fprintf(w, "%-5s %s (%s)\n", outcome, r.Name, r.Location)
		if r.Err != "" {
			fmt.Fprintf(w, "      %s\n", r.Err)
		}
		if !r.Passed && r.Output != "" {
			for line := range strings.Lines(r.Output) {
				fmt.Fprintf(w, "      | %s", line)
			}
			if !strings.HasSuffix(r.Output, "\n") {
				fmt.Fprintln(w)
			}
		}
	}
}
