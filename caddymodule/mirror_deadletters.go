package caddymodule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/mirror"
)

// Bounds of the dead-letters subcommands' inputs.
const (
	maxListCount = 10_000                      // dead letters one list prints
	maxListScan  = 1_000_000                   // dead letters a filtered list reads at most
	maxIDs       = store.MaxDeadLettersPerCall // ids one retry or drop takes: one atomic step
)

// mirrorDeadLettersCommand is "mirror dead-letters list|retry|drop", with
// the Redis flags of the other mirror subcommands (redisFlags).
func mirrorDeadLettersCommand(redisFlags func(*cobra.Command), opts *store.ClientOptions, prefix *string) *cobra.Command {
	var kind string
	var count int
	var all bool
	dl := &cobra.Command{
		Use:   "dead-letters list|retry|drop",
		Short: "Lists, retries or drops the changes the mirror could not deliver",
	}
	list := &cobra.Command{
		Use:   "list [--kind <kind>] [--count <n>]",
		Short: "Prints the dead letters, newest first: id, time, kind, change, account and reason",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			ctx, stop := interruptible()
			defer stop()
			return deadLettersList(ctx, cmd.OutOrStdout(), *opts, *prefix, kind, count)
		},
	}
	redisFlags(list)
	list.Flags().StringVar(&kind, "kind", "", "only dead letters of this kind: "+strings.Join(mirror.DeadLetterKinds, ", "))
	list.Flags().IntVar(&count, "count", 20, fmt.Sprintf("how many to print, at most %d", maxListCount))
	settle := func(retry bool) *cobra.Command {
		verb, does := "drop", "Deletes dead letters"
		if retry {
			verb, does = "retry", "Appends dead letters to the outbox again, as they were first appended, and removes them"
		}
		c := &cobra.Command{
			Use:   verb + " <id>…|--all [--kind <kind>]",
			Short: does,
			RunE: func(cmd *cobra.Command, ids []string) error {
				cmd.SilenceUsage = true
				ctx, stop := interruptible()
				defer stop()
				return deadLettersSettle(ctx, cmd.OutOrStdout(), *opts, *prefix, retry, ids, all, kind)
			},
		}
		redisFlags(c)
		c.Flags().BoolVar(&all, "all", false, "every dead letter there is when the command starts (of --kind, if given)")
		c.Flags().StringVar(&kind, "kind", "", "with --all: only dead letters of this kind")
		return c
	}
	dl.AddCommand(list, settle(true), settle(false))
	requireSubcommand(dl) // command.go
	return dl
}

func checkKind(op, kind string) error {
	if kind != "" && !slices.Contains(mirror.DeadLetterKinds, kind) {
		return fmt.Errorf("mirror dead-letters %s: --kind %q: not one of %s", op, kind, strings.Join(mirror.DeadLetterKinds, ", "))
	}
	return nil
}

// deadLettersList is "mirror dead-letters list": each dead letter on a
// line, newest first. Never a token or a sealed password: a dead letter
// holds no token, and its sealed password is only said to be kept.
func deadLettersList(ctx context.Context, w io.Writer, opts store.ClientOptions, prefix, kind string, count int) error {
	if err := checkKind("list", kind); err != nil {
		return err
	}
	if count < 1 || count > maxListCount {
		return fmt.Errorf("mirror dead-letters list: --count %d: between 1 and %d", count, maxListCount)
	}
	o, err := openOutbox(ctx, "dead-letters list", opts, prefix)
	if err != nil {
		return err
	}
	defer o.close()
	ds, err := o.st.Outbox().ListDeadLetters(ctx, kind, count, maxListScan)
	if err != nil {
		return fmt.Errorf("mirror dead-letters list %s: %w", o.ns, err)
	}
	of := ""
	if kind != "" {
		of = " of kind " + kind
	}
	fmt.Fprintf(w, "%s: %d dead letters in all; the newest %d%s, newest first:\n", o.ns, o.status.DeadLetters, len(ds), of)
	for _, d := range ds {
		sealed := ""
		if d.Sealed {
			sealed = " [sealed password kept]"
		}
		fmt.Fprintf(w, "%s  %s  %-10s %s %s (entry %s)%s: %s\n", d.ID, streamClock(d.ID), cmp.Or(d.Kind, "-"),
			d.Entry.Op, d.Entry.Sid, d.Entry.ID, sealed, d.Reason)
	}
	return nil
}

// deadLettersSettle is "mirror dead-letters retry" (retry) and "… drop":
// the dead letters ids, all in one atomic step (none when one is
// unknown), or with all every one of kind there is when it starts, a
// step per store.MaxDeadLettersPerCall.
func deadLettersSettle(ctx context.Context, w io.Writer, opts store.ClientOptions, prefix string, retry bool, ids []string, all bool, kind string) error {
	op := "drop"
	if retry {
		op = "retry"
	}
	switch {
	case all && len(ids) > 0:
		return fmt.Errorf("mirror dead-letters %s: give ids or --all, not both", op)
	case !all && len(ids) == 0:
		return fmt.Errorf("mirror dead-letters %s: give the ids of the dead letters (mirror dead-letters list), or --all", op)
	case !all && kind != "":
		return fmt.Errorf("mirror dead-letters %s: --kind goes with --all", op)
	case len(ids) > maxIDs:
		return fmt.Errorf("mirror dead-letters %s: at most %d ids at a time, not %d (or --all)", op, maxIDs, len(ids))
	}
	if err := checkKind(op, kind); err != nil {
		return err
	}
	o, err := openOutbox(ctx, "dead-letters "+op, opts, prefix)
	if err != nil {
		return err
	}
	defer o.close()
	if retry && !o.status.Enabled {
		return fmt.Errorf("mirror dead-letters retry %s: %w: nothing can be delivered (a gateway with a mirror block makes it)", o.ns, store.ErrNotMirrored)
	}
	run := func(ids []string) (int, error) {
		if retry {
			appended, err := o.st.Outbox().RetryDeadLetters(ctx, ids)
			return len(appended), err
		}
		return len(ids), o.st.Outbox().DropDeadLetters(ctx, ids)
	}
	if !all {
		n, err := run(ids)
		if unknown, ok := errors.AsType[*store.UnknownDeadLettersError](err); ok {
			return fmt.Errorf("mirror dead-letters %s %s: %w (nothing changed; see mirror dead-letters list)", op, o.ns, unknown)
		}
		if err != nil {
			return fmt.Errorf("mirror dead-letters %s %s: %w", op, o.ns, err)
		}
		fmt.Fprintf(w, "%s: %s\n", o.ns, settledLine(retry, n))
		return nil
	}
	// only the dead letters there are now: a retried entry may come back
	// dead-lettered meanwhile, and is not taken again
	newest, err := o.st.Outbox().DeadLetters(ctx, 1)
	if err != nil {
		return fmt.Errorf("mirror dead-letters %s %s: %w", op, o.ns, err)
	}
	total := 0
	if len(newest) > 0 {
		for after := ""; ; {
			page, next, err := o.st.Outbox().DeadLetterIDs(ctx, kind, after, newest[0].ID, maxIDs)
			if err == nil && len(page) > 0 {
				var n int
				n, err = run(page)
				total += n
			}
			if err != nil {
				if total > 0 {
					fmt.Fprintf(w, "%s: %s before failing\n", o.ns, settledLine(retry, total))
				}
				return fmt.Errorf("mirror dead-letters %s %s: %w", op, o.ns, err)
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	fmt.Fprintf(w, "%s: %s\n", o.ns, settledLine(retry, total))
	return nil
}

func settledLine(retry bool, n int) string {
	if retry {
		return fmt.Sprintf("%d dead letters appended to the outbox again", n)
	}
	return fmt.Sprintf("%d dead letters dropped", n)
}

// printAlarms prints, before anything else in "mirror status", the dead
// letters that need an operator first: conflicts (RestComm holds other
// accounts under the SIDs of the gateway's: nothing of them written) and
// degraded security changes (a close, a suspension or a new password
// written to RestComm only in part).
func printAlarms(w io.Writer, sum *store.DeadLetterSummary) {
	if sum == nil {
		return
	}
	of := ""
	if int64(sum.Scanned) < sum.Total {
		of = fmt.Sprintf(" (among the newest %d dead letters)", sum.Scanned)
	}
	if k := sum.Kinds[mirror.DeadLetterConflict]; k != nil {
		fmt.Fprintf(w, "CONFLICTS:     %d changes not written: RestComm holds other accounts under their SIDs%s (newest: %s); "+
			"see mirror dead-letters list --kind conflict\n", k.Count, of, strings.Join(k.Newest, ", "))
	}
	if k := sum.Kinds[mirror.DeadLetterDegraded]; k != nil {
		fmt.Fprintf(w, "SECURITY:      %d status or password changes reached RestComm only in part (status, auth_token, date_updated "+
			"written; the rest refused)%s (newest: %s); see mirror dead-letters list --kind degraded\n", k.Count, of,
			strings.Join(k.Newest, ", "))
	}
}
