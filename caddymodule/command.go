package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/spf13/cobra"

	"github.com/restcomm/restcomm-gateway/internal/version"
	"github.com/restcomm/restcomm-gateway/policy"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "policy",
		Usage: "init <dir> | test <dir> | show-builtin [--bundle <dir>] | replay --decisions <log> [--overlay <dir>]",
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
runs the tests: an overlay's with the built-in policy's own, reported by
OPA's test reporters (-v: every test with its result and time; --format
json: OPA's JSON, for CI). --run selects tests by a regular expression,
as opa test --run; --coverage reports what the tests cover, and
--threshold fails below a percentage. As opa test, it exits with status
0 when the gateway would accept the directory (and the coverage is
enough); 2 when a test fails or the coverage is below the threshold; and
1, with the reason, when the directory does not load or compile or is
refused as an overlay, or the command is misused. A directory refused with
2 for a failing test or with 1 is one the gateway would refuse, keeping its
last good policy. An accepted overlay that grants modify reach above the
caller (may_modify_above), or uses may_operate_on_target (read reach
only), is accepted with a WARN line for each, as the gateway logs them.

"policy show-builtin" prints the built-in policy, every file of it. With
--bundle <dir> it writes it into the directory as an OPA bundle (its files
and a .manifest with a revision and its roots), for OPA's own tools:
opa test <dir> <overlay>, opa eval -b <dir>, opa check --strict, opa fmt.
It refuses a directory that is not empty unless --force.

"policy replay --decisions <log> --overlay <dir>" tells what a candidate
policy would change before it is enforced: it decides the inputs of logged
decisions (decision_log on) again with the candidate, compiled as the
gateway would load it, and reports the decisions that would change, by kind
and operation, with examples. It exits with status 2 when any would change,
unless --allow-changes; 1 when the log cannot be read or the candidate
would be refused.
`,
		CobraFunc: func(cmd *cobra.Command) {
			var initMode string
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
			var topts policyTestOptions
			testCmd := &cobra.Command{
				Use:   "test <dir>",
				Short: "Compiles a policy directory and runs its tests",
				Args:  cobra.ExactArgs(1),
				RunE: func(cmd *cobra.Command, args []string) error {
					cmd.SilenceUsage = true
					topts.thresholdSet = cmd.Flags().Changed("threshold")
					status, err := policyTest(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], topts)
					if status > 1 {
						return withExitStatus(cmd, status, err)
					}
					return err
				},
			}
			testCmd.Flags().StringVar(&topts.mode, "mode", string(policy.Overlay), "overlay or replace, as the Caddyfile's policy_mode")
			testCmd.Flags().StringVarP(&topts.run, "run", "r", "", "run only the tests whose name (data.package.rule) matches this regular expression, as opa test --run")
			testCmd.Flags().BoolVarP(&topts.verbose, "verbose", "v", false, "print every test with its result and time, and the evaluation trace of a failing one")
			testCmd.Flags().StringVarP(&topts.format, "format", "f", "pretty", "pretty, or json: OPA's JSON report (with --coverage, OPA's JSON coverage report)")
			testCmd.Flags().BoolVarP(&topts.coverage, "coverage", "c", false, "report what the tests cover of the policy's rule files (OPA's cover package)")
			testCmd.Flags().Float64Var(&topts.threshold, "threshold", 0, "with --coverage (which it implies), fail with status 2 below this percentage, 0 to 100")
			testCmd.Flags().DurationVarP(&topts.timeout, "timeout", "t", 0, "bound each test (default 5s, the gateway's; 1m with --coverage)")
			var bundleDir string
			var force bool
			showCmd := &cobra.Command{
				Use:   "show-builtin",
				Short: "Prints the built-in policy, or writes it as an OPA bundle",
				Args:  cobra.NoArgs,
				RunE: func(cmd *cobra.Command, _ []string) error {
					if bundleDir == "" {
						if force {
							return errors.New("--force is for --bundle <dir>")
						}
						return policy.ShowBuiltin(cmd.OutOrStdout())
					}
					cmd.SilenceUsage = true
					return policyBundle(cmd.OutOrStdout(), bundleDir, force)
				},
			}
			showCmd.Flags().StringVar(&bundleDir, "bundle", "", "write the built-in policy into this directory as an OPA bundle, instead of printing it")
			showCmd.Flags().BoolVar(&force, "force", false, "with --bundle, write into a directory that is not empty, over the bundle's files")
			cmd.AddCommand(initCmd, testCmd, showCmd, policyReplayCommand()) // policyreplay_command.go
			requireSubcommand(cmd)
		},
	})
}

// exitStatusError is an error with the status the program exits with.
// Caddy's Main exits with the status of the error that
// caddycmd.WrapCommandFuncForCobra makes, which it finds in the chain.
type exitStatusError struct {
	err    error
	status int
	caddy  error
}

// withExitStatus is err, which the program reports, with the exit status
// status (2 or more).
func withExitStatus(cmd *cobra.Command, status int, err error) error {
	caddyErr := caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) { return status, nil })(cmd, nil)
	if err == nil {
		err = fmt.Errorf("exit status %d", status)
	}
	return &exitStatusError{err: err, status: status, caddy: caddyErr}
}

func (e *exitStatusError) Error() string   { return e.err.Error() }
func (e *exitStatusError) Unwrap() []error { return []error{e.err, e.caddy} }

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

// policyBundle writes the built-in policy into dir as an OPA bundle.
func policyBundle(w io.Writer, dir string, force bool) error {
	rev, err := policy.BuiltinRevision()
	if err != nil {
		return err
	}
	rev = version.Get().Version + "+" + rev
	files, err := policy.WriteBundle(dir, policy.BundleOptions{Revision: rev, Force: force})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "policy bundle %s: the built-in policy as an OPA bundle, revision %s, %d files\n", dir, rev, len(files))
	return nil
}

// policyTestOptions are the flags of `policy test`.
type policyTestOptions struct {
	mode         string
	run          string
	verbose      bool
	format       string
	coverage     bool
	threshold    float64
	thresholdSet bool
	timeout      time.Duration
}

// Exit statuses of `policy test`, as opa test's.
const (
	testsPassed = 0
	testsError  = 1 // usage, or a directory that does not load or compile, or is refused
	testsFailed = 2 // a test failed, or the coverage is below the threshold
)

// policyTest compiles dir and runs its tests as the gateway does before
// it puts a policy in force, and reports the results with OPA's
// reporters on w: in the pretty format, then the gateway's warnings and
// a summary line (on errw with --format json, so that w holds JSON only).
// It returns the exit status and, unless 0, the reason.
func policyTest(ctx context.Context, w, errw io.Writer, dir string, o policyTestOptions) (int, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	m, err := policy.ParseMode(o.mode)
	if err != nil {
		return testsError, err
	}
	if o.format != "pretty" && o.format != "json" {
		return testsError, fmt.Errorf("--format %q: want pretty or json", o.format)
	}
	if o.timeout < 0 {
		return testsError, fmt.Errorf("--timeout %v: want a positive duration", o.timeout)
	}
	if o.threshold < 0 || o.threshold > 100 {
		return testsError, fmt.Errorf("--threshold %v: want a percentage from 0 to 100", o.threshold)
	}
	if o.thresholdSet {
		o.coverage = true // as opa test
	}
	if _, err := regexp.Compile(o.run); err != nil {
		return testsError, fmt.Errorf("--run: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return testsError, fmt.Errorf("policy %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return testsError, fmt.Errorf("policy %s: not a directory", dir)
	}

	opts := policy.TestOptions{Run: o.run, Timeout: o.timeout}
	if o.coverage {
		opts.Coverage = cover.New()
	}
	p, err := policy.CompileWith(ctx, os.DirFS(dir), m, opts)
	var failed *policy.TestsFailedError
	var results []policy.TestResult
	switch {
	case errors.As(err, &failed):
		results = failed.Results
		if o.verbose {
			results = withTraces(ctx, dir, m, results, o.timeout)
		}
	case err != nil:
		return testsError, fmt.Errorf("policy %s refused: %w", dir, err)
	default:
		results = p.TestResults()
	}

	var reporter tester.Reporter
	switch {
	case o.format == "json" && o.coverage:
		var modules map[string]*ast.Module
		if p != nil {
			modules = p.Modules()
		}
		reporter = tester.JSONCoverageReporter{Cover: opts.Coverage, Modules: modules, Output: w,
			Threshold: o.threshold, Verbose: o.verbose}
	case o.format == "json":
		reporter = tester.JSONReporter{Output: w}
	default:
		reporter = tester.PrettyReporter{Output: w, Verbose: o.verbose}
	}
	ch := make(chan *tester.Result, len(results))
	for _, r := range results {
		ch <- r.OPA
	}
	close(ch)
	reportErr := reporter.Report(ch)

	if failed != nil {
		n := 0
		for _, r := range failed.Results {
			if !r.Passed && !r.Skipped {
				n++
			}
		}
		return testsFailed, fmt.Errorf("policy %s refused: %d of %d tests failed", dir, n, len(failed.Results))
	}
	var below *cover.CoverageThresholdError
	if errors.As(reportErr, &below) {
		return testsFailed, fmt.Errorf("policy %s: coverage %.2f%% is below the threshold %v%%", dir, below.Coverage, below.Threshold)
	}
	if reportErr != nil {
		return testsError, fmt.Errorf("policy %s: %w", dir, reportErr)
	}

	summary := w
	if o.format == "json" {
		summary = errw
	}
	coverage := ""
	if o.coverage {
		report := opts.Coverage.Report(p.Modules())
		if o.format != "json" {
			printCoverage(w, report)
		}
		coverage = fmt.Sprintf(", coverage %.2f%%", report.Coverage)
		if report.Coverage < o.threshold {
			return testsFailed, fmt.Errorf("policy %s: coverage %.2f%% is below the threshold %v%%", dir, report.Coverage, o.threshold)
		}
	}
	for _, warning := range p.Warnings() {
		fmt.Fprintf(summary, "WARN  %s\n", warning)
	}
	selected := ""
	if o.run != "" {
		selected = fmt.Sprintf(" (those matching %q)", o.run)
	}
	fmt.Fprintf(summary, "policy %s: OK, revision %s, %d tests passed%s%s\n", dir, p.Revision(), p.Tests(), selected, coverage)
	return testsPassed, nil
}

// withTraces are results with the evaluation traces of the failing tests,
// which tester.PrettyReporter prints when it is verbose: those tests are
// run again, alone, with tracing, which would slow every test down.
func withTraces(ctx context.Context, dir string, mode policy.Mode, results []policy.TestResult, timeout time.Duration) []policy.TestResult {
	var names []string
	for _, r := range results {
		if !r.Passed && !r.Skipped {
			names = append(names, regexp.QuoteMeta(r.Name))
		}
	}
	_, err := policy.CompileWith(ctx, os.DirFS(dir), mode, policy.TestOptions{
		Run: "^(" + strings.Join(names, "|") + ")$", Trace: true, Timeout: timeout})
	var again *policy.TestsFailedError
	if !errors.As(err, &again) {
		return results // changed meanwhile: without traces
	}
	traced := map[string]policy.TestResult{}
	for _, r := range again.Results {
		traced[r.Name] = r
	}
	out := slices.Clone(results)
	for i, r := range out {
		if t, ok := traced[r.Name]; ok && !t.Passed && !t.Skipped {
			out[i] = t
		}
	}
	return out
}

// printCoverage writes a coverage report of OPA's cover package: each
// file's figure, then the whole's.
func printCoverage(w io.Writer, r cover.Report) {
	names := slices.Sorted(maps.Keys(r.Files))
	for _, name := range names {
		f := r.Files[name]
		fmt.Fprintf(w, "COVERAGE %6.2f%%  %s (%d of %d lines)\n", f.Coverage, name, f.CoveredLines, f.CoveredLines+f.NotCoveredLines)
	}
	fmt.Fprintf(w, "COVERAGE %6.2f%%  (%d of %d lines)\n", r.Coverage, r.CoveredLines, r.CoveredLines+r.NotCoveredLines)
}
