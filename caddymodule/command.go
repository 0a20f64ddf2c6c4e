package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/restcomm/restcomm-gateway/policy"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "policy",
		Usage: "init|test <dir>",
		Short: "Checks a RestComm gateway policy directory",
		Long: `
Works with the policy directories of the restcomm handler (policy_dir).

"policy init <dir>" writes the built-in policy (RestComm's own rules, with
its tests) into the directory, the starting point of an edit; it never
overwrites a file.

"policy test <dir>" compiles the directory exactly as the gateway would
load it and runs its *_test.rego tests, printing each result. It exits
with status 0 when the gateway would accept the directory, and 1 (with
the reason) when it would refuse it and keep its last good policy.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(&cobra.Command{
				Use:   "init <dir>",
				Short: "Writes the built-in policy into a directory",
				Args:  cobra.ExactArgs(1),
				RunE: func(cmd *cobra.Command, args []string) error {
					if err := policy.WriteDefault(args[0]); err != nil {
						cmd.SilenceUsage = true
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "policy %s: the built-in policy, ready to edit\n", args[0])
					return nil
				},
			})
			cmd.AddCommand(&cobra.Command{
				Use:   "test <dir>",
				Short: "Compiles a policy directory and runs its tests",
				Args:  cobra.ExactArgs(1),
				RunE: func(cmd *cobra.Command, args []string) error {
					if err := policyTest(cmd.Context(), cmd.OutOrStdout(), args[0]); err != nil {
						cmd.SilenceUsage = true
						return err
					}
					return nil
				},
			})
		},
	})
}

// policyTest compiles dir and runs its tests as the gateway does before
// it puts a policy in force, writing one line per test and a summary. The
// error says why the gateway would refuse the directory.
func policyTest(ctx context.Context, w io.Writer, dir string) error {
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
	p, err := policy.Compile(ctx, os.DirFS(dir))
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
