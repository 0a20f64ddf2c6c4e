package caddymodule

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/restcomm/restcomm-gateway/internal/redact"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/mirror"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "mirror",
		Usage: "status|verify|disable|dead-letters [--redis <url>]... [--key-prefix <prefix>] [--database <mysql://…>]",
		Short: "Shows and checks the mirror of the gateway's accounts into RestComm's database",
		Long: `
Works with the mirror of the restcomm handler (its "mirror" block): the
outbox in Redis through which every account and organization change is
written into RestComm's own database.

"mirror status" prints the backlog (changes not yet delivered), the age of
the oldest one, how many were delivered and dead-lettered, the gateway
that delivers now (the lease holder) and the last dead letters with their
reasons. With --database it also checks that the database answers. Its
first lines, when there are any, are the dead letters to look at first:
conflicts (accounts RestComm holds as other accounts under the SIDs of
the gateway's: nothing of them written) and security changes that reached
RestComm only in part (a close, a suspension or a new password whose other
columns RestComm's database refused: status, auth_token and date_updated
written).

"mirror verify" compares every account and organization in Redis with
RestComm's tables, row by row (matched by SID as the database compares
SIDs) and column by column, prints every difference, and exits with status
1 when there is any drift. Rows only in the database that the import
skipped (reserved at the gateway) and values the database's collation
finds equal (an e-mail address in another case) are printed as such and
are not drift. Changes not yet delivered show as differences marked
pending.

"mirror dead-letters list [--kind <kind>] [--count <n>]" prints the dead
letters, newest first: id, time, kind, change, account, reason (never a
token or a sealed password). "mirror dead-letters retry <id>…|--all" appends
them to the outbox again, as they were first appended (with the sealed
password the dead letter kept), and removes them, in one atomic step;
"mirror dead-letters drop <id>…|--all" deletes them. At most 100 ids at a
time (all or none: an unknown id changes nothing); --all takes every one
there is when the command starts, of --kind if given.

"mirror disable" stops mirroring the namespace once no gateway runs with a
mirror block any more: it deletes the outbox (changes not yet delivered
are dropped, and counted) so that changes append nothing more. It refuses
while a gateway holds the delivery lease.

--redis defaults to $RESTCOMM_REDIS, else redis://127.0.0.1:6379/0 (with
the password of $RESTCOMM_REDIS_PASSWORD, else the one 'up' keeps);
--database to $RESTCOMM_DATABASE. They take the URL forms of "accounts
import" (a password with special characters percent-encoded).
`,
		CobraFunc: func(cmd *cobra.Command) {
			var opts store.ClientOptions
			var prefix, database, zone string
			var dead int64
			redisFlags := func(c *cobra.Command) {
				c.Flags().StringArrayVar(&opts.URLs, "redis", nil, "Redis URL (repeat for Cluster seed nodes or Sentinels); default $RESTCOMM_REDIS")
				c.Flags().StringVar(&opts.MasterName, "redis-master-name", "", "Sentinel: the monitored master's name")
				c.Flags().StringVar(&prefix, "key-prefix", "", "the gateways' key_prefix (default restcomm)")
			}
			flags := func(c *cobra.Command) {
				redisFlags(c)
				c.Flags().StringVar(&database, "database", "", "RestComm's database, mysql://user:password@host:3306/restcomm; default $RESTCOMM_DATABASE")
			}
			status := &cobra.Command{
				Use:   "status",
				Short: "Prints the backlog, the counts, the delivering gateway and the last dead letters",
				Args:  cobra.NoArgs,
				RunE: func(cmd *cobra.Command, _ []string) error {
					cmd.SilenceUsage = true
					ctx, stop := interruptible()
					defer stop()
					return mirrorStatus(ctx, cmd.OutOrStdout(), opts, prefix, cmp.Or(database, os.Getenv("RESTCOMM_DATABASE")), dead)
				},
			}
			flags(status)
			status.Flags().Int64Var(&dead, "dead-letters", 5, "how many of the last dead letters to print")
			verify := &cobra.Command{
				Use:   "verify --database <mysql://…>",
				Short: "Compares Redis with RestComm's database row by row; status 1 on any drift",
				Args:  cobra.NoArgs,
				RunE: func(cmd *cobra.Command, _ []string) error {
					cmd.SilenceUsage = true
					loc, err := time.LoadLocation(zone)
					if err != nil {
						return fmt.Errorf("mirror verify: --time-zone: %w", err)
					}
					ctx, stop := interruptible()
					defer stop()
					n, err := mirrorVerify(ctx, cmd.OutOrStdout(), opts, prefix, cmp.Or(database, os.Getenv("RESTCOMM_DATABASE")), loc)
					if err != nil {
						return err
					}
					if n > 0 {
						cmd.SilenceErrors = true
						return fmt.Errorf("%d differences", n)
					}
					return nil
				},
			}
			flags(verify)
			verify.Flags().StringVar(&zone, "time-zone", "UTC", "RestComm's JVM time zone (the mirror's time_zone)")
			disable := &cobra.Command{
				Use:   "disable",
				Short: "Stops mirroring the namespace (once no gateway has a mirror block)",
				Args:  cobra.NoArgs,
				RunE: func(cmd *cobra.Command, _ []string) error {
					cmd.SilenceUsage = true
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					return mirrorDisable(ctx, cmd.OutOrStdout(), opts, prefix)
				},
			}
			flags(disable)
			cmd.AddCommand(status, verify, disable, mirrorDeadLettersCommand(redisFlags, &opts, &prefix))
			requireSubcommand(cmd) // command.go
		},
	})
}

// outbox is what every mirror subcommand starts from: the namespace's
// store, its name, and the status of its outbox.
type outbox struct {
	st     *store.Store
	ns     string
	status *store.OutboxStatus
	close  func()
}

// openOutbox opens the namespace's store and reads its outbox's status,
// for the mirror subcommand op; close releases the store.
func openOutbox(ctx context.Context, op string, opts store.ClientOptions, prefix string) (*outbox, error) {
	st, closeStore, err := openStore(opts, prefix) // accounts_import_command.go
	if err != nil {
		return nil, err
	}
	o := &outbox{st: st, ns: namespace(prefix), close: closeStore}
	if o.status, err = st.Outbox().Status(ctx); err != nil {
		closeStore()
		return nil, fmt.Errorf("mirror %s %s: Redis: %w", op, o.ns, err)
	}
	return o, nil
}

// statusScan is how many of the newest dead letters "mirror status" reads
// for its first lines.
const statusScan = 10_000

// mirrorStatus is "mirror status".
func mirrorStatus(ctx context.Context, w io.Writer, opts store.ClientOptions, prefix, database string, dead int64) error {
	o, err := openOutbox(ctx, "status", opts, prefix)
	if err != nil {
		return err
	}
	defer o.close()
	st, s := o.st, o.status
	var alarms *store.DeadLetterSummary
	if s.DeadLetters > 0 {
		if alarms, err = st.Outbox().SummarizeDeadLetters(ctx, statusScan, 3); err != nil {
			return fmt.Errorf("mirror status %s: %w", o.ns, err)
		}
	}
	printAlarms(w, alarms)
	printStatus(w, o.ns, s, time.Now())
	if dead > 0 && s.DeadLetters > 0 {
		ds, err := st.Outbox().DeadLetters(ctx, dead)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "last dead letters (newest first):\n")
		for _, d := range ds {
			fmt.Fprintf(w, "  %s  %s  %s %s %s (entry %s): %s\n", d.ID, streamClock(d.ID), cmp.Or(d.Kind, "-"), d.Entry.Op,
				d.Entry.Sid, d.Entry.ID, d.Reason)
		}
	}
	if database != "" {
		db, err := mirror.OpenDatabase(database)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := db.PingContext(ctx); err != nil {
			fmt.Fprintf(w, "database:      %s does not answer: %v\n", redact.URL(database), err)
		} else {
			fmt.Fprintf(w, "database:      %s answers\n", redact.URL(database))
		}
	}
	return nil
}

func printStatus(w io.Writer, ns string, s *store.OutboxStatus, now time.Time) {
	if !s.Enabled {
		fmt.Fprintf(w, "%s: not mirrored (no gateway with a mirror block has run on it)\n", ns)
		return
	}
	fmt.Fprintf(w, "%s: mirrored\n", ns)
	if s.Holder != "" {
		fmt.Fprintf(w, "worker:        %s (lease %s left)\n", s.Holder, s.LeaseLeft.Round(time.Millisecond))
	} else {
		fmt.Fprintf(w, "worker:        none (no gateway holds the lease: none runs with a mirror block)\n")
	}
	fmt.Fprintf(w, "backlog:       %d changes not yet delivered", s.Backlog)
	if s.Unsettled > 0 {
		fmt.Fprintf(w, " (%d being delivered)", s.Unsettled)
	}
	fmt.Fprintln(w)
	if !s.Oldest.IsZero() {
		fmt.Fprintf(w, "oldest:        %s old (made %s)\n", now.Sub(s.Oldest).Round(time.Millisecond), s.Oldest.UTC().Format(time.RFC3339Nano))
	}
	fmt.Fprintf(w, "delivered:     %d\n", s.Delivered)
	fmt.Fprintf(w, "dead-lettered: %d (%d in the dead-letter stream)\n", s.Dead, s.DeadLetters)
	if s.Delivered > 0 {
		q := func(v float64) string {
			switch d := s.LatencyQuantile(v); {
			case d < 0:
				return fmt.Sprintf("> %v", time.Duration(store.LatencyBuckets[len(store.LatencyBuckets)-1])*time.Millisecond)
			default:
				return "≤ " + d.String()
			}
		}
		fmt.Fprintf(w, "latency:       last %v, mean %v, p50 %s, p99 %s (change to delivery)\n",
			s.LastLatency, s.MeanLatency, q(0.5), q(0.99))
	}
	if !s.LastSettled.IsZero() {
		fmt.Fprintf(w, "last settled:  %s ago\n", now.Sub(s.LastSettled).Round(time.Millisecond))
	}
}

func streamClock(id string) string {
	e := store.OutboxEntry{ID: id}
	return e.Time().UTC().Format(time.RFC3339)
}

// mirrorDisable is "mirror disable".
func mirrorDisable(ctx context.Context, w io.Writer, opts store.ClientOptions, prefix string) error {
	o, err := openOutbox(ctx, "disable", opts, prefix)
	if err != nil {
		return err
	}
	defer o.close()
	st, ns, s := o.st, o.ns, o.status
	switch {
	case !s.Enabled:
		fmt.Fprintf(w, "%s: not mirrored: nothing to do\n", ns)
		return nil
	case s.Holder != "":
		return fmt.Errorf("mirror disable %s: gateway %s still delivers: remove the mirror block from every gateway first", ns, s.Holder)
	}
	n, err := st.Outbox().Disable(ctx)
	if err != nil {
		return fmt.Errorf("mirror disable %s: %w", ns, err)
	}
	fmt.Fprintf(w, "%s: no longer mirrored; %d changes not yet delivered were dropped\n", ns, n)
	return nil
}

// mirrorVerify is "mirror verify": it prints every difference, drift
// first, then the rows the import skipped (reserved) and the values the
// database finds equal, and returns the number of drift differences (the
// command's status is 1 when there is any).
func mirrorVerify(ctx context.Context, w io.Writer, opts store.ClientOptions, prefix, database string, loc *time.Location) (int, error) {
	if database == "" {
		return 0, fmt.Errorf("mirror verify: --database (or $RESTCOMM_DATABASE) is required")
	}
	o, err := openOutbox(ctx, "verify", opts, prefix)
	if err != nil {
		return 0, err
	}
	defer o.close()
	st, s := o.st, o.status
	db, err := mirror.OpenDatabase(database)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	v, err := mirror.Check(ctx, st, db, loc)
	if err != nil {
		return 0, fmt.Errorf("mirror verify: %w", err)
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	var reserved, equal []mirror.Difference
	for _, d := range v.Differences {
		switch {
		case d.Reserved != "":
			reserved = append(reserved, d)
		case d.EqualUnder != "":
			equal = append(equal, d)
		default:
			fmt.Fprintln(w, d)
		}
	}
	if len(reserved) > 0 {
		fmt.Fprintf(w, "rows only in the database that the import skipped (reserved at the gateway, not drift): %d\n", len(reserved))
		for _, d := range reserved {
			fmt.Fprintf(w, "  %s %s: %s\n", d.Kind, d.Sid, d.Reserved)
		}
	}
	if len(equal) > 0 {
		fmt.Fprintf(w, "values that differ but the database finds equal under %s (not drift): %d\n", v.Rule, len(equal))
		for _, d := range equal {
			fmt.Fprintf(w, "  %s %s: %s: gateway %q, database %q\n", d.Kind, d.Sid, d.Field, d.Gateway, d.Database)
		}
	}
	drift := v.Drift()
	switch {
	case drift == 0 && len(v.Differences) == 0:
		fmt.Fprintf(w, "no difference between the gateway and %s\n", redact.URL(database))
	case drift == 0:
		fmt.Fprintf(w, "no drift between the gateway and %s (%d reserved rows, %d values equal under %s)\n",
			redact.URL(database), len(reserved), len(equal), v.Rule)
	default:
		fmt.Fprintf(w, "%d differences", drift)
		if s.Backlog > 0 {
			fmt.Fprintf(w, " (%d changes not yet delivered)", s.Backlog)
		}
		fmt.Fprintln(w)
	}
	return drift, nil
}
