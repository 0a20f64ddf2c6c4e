package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"

	"github.com/spf13/cobra"

	"github.com/restcomm/restcomm-gateway/internal/policyreplay"
	"github.com/restcomm/restcomm-gateway/policy"
)

// policyReplayOptions are the flags of `policy replay`.
type policyReplayOptions struct {
	decisions    string
	overlay      string
	mode         string
	examples     int
	allowChanges bool
	format       string
}

// Exit statuses of `policy replay`: as `policy test`'s, 2 saying that
// decisions would change.
const (
	replayUnchanged = 0
	replayError     = 1 // usage, an unreadable log, or a candidate the gateway would refuse
	replayChanged   = 2 // a decision would change, without --allow-changes
)

const policyReplayLong = `
Reads decision-log entries (decision_log on: Caddy's JSON log lines of the
logger http.handlers.restcomm.decision, or bare OPA events, one a line; "-"
for standard input), decides each entry's logged input again with the
candidate policy, and compares the decision with the one logged, as the
gateway acts on it. The candidate is the directory of --overlay compiled
exactly as the gateway would load it (as an overlay, or with --mode replace
as a complete policy: its tests must pass and an overlay is checked); without
--overlay, the built-in policy alone.

It prints how many lines were read, compared and skipped (not JSON, not
decision entries, incomplete, too long), the changed decisions counted by
kind (would_deny: allowed, now denied; would_allow; status_changed: denied
with another status; response_changed: another message, body, stage,
headers, anonymous or hide_auth_token) and by operation, and the first
--examples of them with both results. --format json prints the report as
JSON. Exit status: 0 when no decision would change (or --allow-changes); 2
when one would; 1 when the log cannot be read or the candidate would be
refused, with the reason.
`

func policyReplayCommand() *cobra.Command {
	var o policyReplayOptions
	cmd := &cobra.Command{
		Use:   "replay --decisions <log> [--overlay <dir>]",
		Short: "Replays logged decisions on a candidate policy and reports what would change",
		Long:  policyReplayLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			status, err := policyReplay(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
			if status > 1 {
				return withExitStatus(cmd, status, err)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&o.decisions, "decisions", "", "the decision log: a file of JSON lines, or - for standard input (required)")
	cmd.Flags().StringVar(&o.overlay, "overlay", "", "the candidate policy directory (the built-in policy alone when not given)")
	cmd.Flags().StringVar(&o.mode, "mode", string(policy.Overlay), "overlay or replace, as the Caddyfile's policy_mode")
	cmd.Flags().IntVar(&o.examples, "examples", 10, "show this many changed decisions, the first ones")
	cmd.Flags().BoolVar(&o.allowChanges, "allow-changes", false, "exit with status 0 even when decisions would change")
	cmd.Flags().StringVarP(&o.format, "format", "f", "text", "text, or json: the report as a JSON document")
	return cmd
}

// policyReplay compiles the candidate and replays the log on it, writing
// the report on w (WARN lines of the candidate on errw). It returns the
// exit status and, unless 0, the reason.
func policyReplay(ctx context.Context, stdin io.Reader, w, errw io.Writer, o policyReplayOptions) (int, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.decisions == "" {
		return replayError, errors.New("--decisions: the decision log to replay is required (a file, or - for standard input)")
	}
	if o.format != "text" && o.format != "json" {
		return replayError, fmt.Errorf("--format %q: want text or json", o.format)
	}
	if o.examples < 0 {
		return replayError, fmt.Errorf("--examples %d: want 0 or more", o.examples)
	}
	m, err := policy.ParseMode(o.mode)
	if err != nil {
		return replayError, err
	}
	candidate, name, err := replayCandidate(ctx, o.overlay, m)
	if err != nil {
		return replayError, err
	}
	for _, warning := range candidate.Warnings() {
		fmt.Fprintf(errw, "WARN  %s\n", warning)
	}

	in := stdin
	if o.decisions != "-" {
		f, err := os.Open(o.decisions)
		if err != nil {
			return replayError, fmt.Errorf("--decisions: %w", err)
		}
		defer f.Close()
		in = f
	}
	rep, err := policyreplay.Replay(ctx, in, candidate, policyreplay.Options{Examples: o.examples})
	if err != nil {
		return replayError, fmt.Errorf("--decisions %s: %w", o.decisions, err)
	}
	if o.format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return replayError, err
		}
	} else {
		printReplay(w, name, rep)
	}
	if rep.Changed > 0 && !o.allowChanges {
		return replayChanged, fmt.Errorf("policy replay: %d of %d decisions would change", rep.Changed, rep.Compared)
	}
	return replayUnchanged, nil
}

// replayCandidate compiles the candidate as the gateway loads a policy:
// dir in mode, or the built-in policy alone when dir is "".
func replayCandidate(ctx context.Context, dir string, m policy.Mode) (*policy.Policy, string, error) {
	if dir == "" {
		if m == policy.Replace {
			return nil, "", errors.New("--mode replace: no --overlay directory to replace the built-in policy with")
		}
		p, err := policy.Compile(ctx, policy.Default())
		return p, "the built-in policy", err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, "", fmt.Errorf("policy %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, "", fmt.Errorf("policy %s: not a directory", dir)
	}
	p, err := policy.CompileWith(ctx, os.DirFS(dir), m, policy.TestOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("policy %s refused (the gateway would refuse it too; see policy test %s): %w", dir, dir, err)
	}
	return p, fmt.Sprintf("policy %s (%s)", dir, m), nil
}

// printReplay writes the report for people.
func printReplay(w io.Writer, name string, rep *policyreplay.Report) {
	fmt.Fprintf(w, "candidate: %s, revision %s\n", name, rep.Candidate.Revision)
	s := rep.Skipped
	fmt.Fprintf(w, "read %d lines: %d decisions compared, %d lines skipped", rep.Lines, rep.Compared, s.Total())
	if s.Total() > 0 {
		fmt.Fprintf(w, " (%d not JSON, %d not decision entries, %d incomplete, %d too long, %d blank)",
			s.Malformed, s.NotDecision, s.NoResult, s.TooLong, s.Blank)
	}
	fmt.Fprintln(w)
	if rep.Masked > 0 {
		fmt.Fprintf(w, "%d entries were masked when logged; compared as logged\n", rep.Masked)
	}
	if rep.LoggedErrors > 0 {
		fmt.Fprintf(w, "%d entries logged a policy error (denied, the gateway failing closed)\n", rep.LoggedErrors)
	}
	for _, b := range sortedByCount(rep.LoggedBundles) {
		fmt.Fprintf(w, "logged by %s: %d\n", b, rep.LoggedBundles[b])
	}
	fmt.Fprintf(w, "%d of %d decisions would change\n", rep.Changed, rep.Compared)
	if rep.Changed == 0 {
		return
	}
	for _, k := range policy.ChangeKinds {
		n := rep.ByChange[k]
		if n == 0 {
			continue
		}
		fmt.Fprintf(w, "  %-16s %d", k, n)
		if k == policy.WouldDeny {
			for i, st := range slices.Sorted(maps.Keys(rep.WouldDenyStatus)) {
				sep := ", "
				if i == 0 {
					sep = "  ("
				}
				fmt.Fprintf(w, "%sstatus %d: %d", sep, st, rep.WouldDenyStatus[st])
			}
			fmt.Fprint(w, ")")
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "by operation:")
	for _, op := range slices.Sorted(maps.Keys(rep.ByOperation)) {
		fmt.Fprintf(w, "  %-28s", op)
		for _, k := range policy.ChangeKinds {
			if n := rep.ByOperation[op][k]; n > 0 {
				fmt.Fprintf(w, " %s %d", k, n)
			}
		}
		fmt.Fprintln(w)
	}
	if len(rep.Examples) == 0 {
		return
	}
	fmt.Fprintf(w, "the first %d:\n", len(rep.Examples))
	for _, e := range rep.Examples {
		fmt.Fprintf(w, "  %s %s %s\n", e.DecisionID, e.Operation, e.Change)
		fmt.Fprintf(w, "    logged:    %s\n", e.Logged)
		fmt.Fprintf(w, "    candidate: %s\n", e.Candidate)
	}
}

func sortedByCount(m map[string]int) []string {
	keys := slices.Collect(maps.Keys(m))
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}
