package caddymodule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/internal/localredis"
	"github.com/restcomm/restcomm-gateway/internal/redact"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/importer"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// addImportCommands adds "accounts import" and "accounts export" beside
// "accounts seed" (accounts_command.go).
func addImportCommands(cmd *cobra.Command) {
	imp := &cobra.Command{
		Use:   "import --from <mysql://user:password@host:3306/restcomm | restcomm.script | file.jsonl>",
		Short: "Imports an existing RestComm's accounts and organizations",
		Long: `
Imports RestComm's accounts and organizations into the gateway's Redis,
from RestComm's MariaDB/MySQL database (read in one consistent snapshot,
RestComm may keep running), from the restcomm.script of a stopped RestComm
on HSQLDB, or from the JSON lines of "accounts export".

Everything RestComm stores is kept: SIDs, e-mail addresses, friendly names,
parents, types, statuses, auth tokens (so passwords keep working), roles,
URIs, organizations and dates (read in --time-zone, RestComm's JVM time
zone). A source from before RestComm 8.2 (no organizations) imports into
the default organization.

Rows RestComm itself would fail on, or that the gateway would never have
created, are skipped, each named with its reason, and so is everything
below them: a parent that does not exist, a cycle, a tree deeper than three
levels, an unknown status or type, a malformed SID, a field wider than its
column, an empty auth token, a control character in any column, an e-mail
address that is not one (JavaMail's check, as RestComm's create), a line of
an HSQLDB script that does not parse. Their SIDs and e-mail addresses stay
reserved: a create at the gateway of either answers 409, as RestComm's
would. The report lists the reservations at its end; with --strict the
command exits with status 1 when any row was skipped or conflicted.

RestComm's database, not RestComm, compares logins: the import records its
comparison rule in the namespace (read from the e-mail column's collation
in MariaDB/MySQL, latin1_swedish_ci for RestComm's own schema; exact for
HSQLDB unless its script sets a PAD SPACE collation; the rule an export
recorded), re-keying the namespace's indexes when it had another, so that
logins find what RestComm's database would. --collation names the rule
instead (one of exact, exact_pad, latin1_swedish_ci, unicode_ci, or a
MariaDB collation name). Accounts whose e-mail addresses are equal under
the rule are all imported: a login by that address is refused as
ambiguous (RestComm answers 500), and each is reachable by its SID.

Running it again changes nothing and says so. An account changed at the
gateway since the last import is reported as a conflict and left alone
unless --overwrite. The import marks the namespace, so no gateway seeds
RestComm's defaults over it; the source's default administrator is the one
that counts. Gateways sharing the Redis keep answering while it runs.
`,
		Args: cobra.NoArgs,
	}
	var opts store.ClientOptions
	var prefix, from, zone, domain, coll string
	var dry, overwrite, strict bool
	redisFlags := func(c *cobra.Command) {
		c.Flags().StringArrayVar(&opts.URLs, "redis", nil, "Redis URL (repeat for Cluster seed nodes or Sentinels); default $RESTCOMM_REDIS, else redis://127.0.0.1:6379/0, with the password $RESTCOMM_REDIS_PASSWORD, else the one up keeps for its redis-server")
		c.Flags().StringVar(&opts.MasterName, "redis-master-name", "", "Sentinel: the monitored master's name")
		c.Flags().StringVar(&prefix, "key-prefix", "", "the gateways' key_prefix (default restcomm)")
	}
	redisFlags(imp)
	imp.Flags().StringVar(&from, "from", "", "mysql://user:password@host:3306/restcomm, a restcomm.script, or a .jsonl export")
	imp.Flags().StringVar(&zone, "time-zone", "UTC", "RestComm's JVM time zone, in which its database holds dates (e.g. Europe/Paris)")
	imp.Flags().BoolVar(&dry, "dry-run", false, "read and compare, write nothing")
	imp.Flags().BoolVar(&overwrite, "overwrite", false, "write the source over accounts changed at the gateway since the last import")
	imp.Flags().StringVar(&domain, "organization-domain", "", "for a source without organizations: the default organization's domain, if the gateway has none")
	imp.Flags().StringVar(&coll, "collation", "", "the rule logins compare by, instead of the source's collation: "+strings.Join(collation.Names, ", ")+", or a MariaDB collation name")
	imp.Flags().BoolVar(&strict, "strict", false, "exit with status 1, after the report, when any row was skipped or conflicted")
	imp.RunE = func(cmd *cobra.Command, _ []string) error {
		cmd.SilenceUsage = true
		if from == "" {
			return fmt.Errorf("accounts import: --from is required")
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return fmt.Errorf("accounts import: --time-zone: %w", err)
		}
		iopts := importer.Options{
			TimeZone: loc, DryRun: dry, Overwrite: overwrite, DefaultDomain: domain, Version: gatewayVersion(),
		}
		if coll != "" {
			rule, err := collation.Parse(coll)
			if err != nil {
				return fmt.Errorf("accounts import: --collation: %w", err)
			}
			iopts.Collation = &rule
		}
		ctx, stop := interruptible()
		defer stop()
		rep, err := accountsImport(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), opts, prefix, from, iopts)
		if err != nil {
			return err
		}
		if strict && !rep.Clean() {
			return fmt.Errorf("accounts import --strict: %d rows skipped, %d conflicts",
				len(rep.Skipped), len(rep.Conflicts))
		}
		return nil
	}

	exp := &cobra.Command{
		Use:   "export [--output file.jsonl]",
		Short: "Writes the namespace's accounts and organizations as JSON lines",
		Long: `
Writes every organization and account of the namespace as JSON lines (one
object per line, RestComm's column names), with the namespace's comparison
rule and its reservations (the rows an import skipped), which "accounts
import --from file.jsonl" reads back: a backup and restore path. The lines hold auth
tokens: keep the file as secret as the Redis itself. --output writes a new
file readable by its owner only, beside the target, and moves it there
once complete; it refuses a target that exists (--force replaces it) and
never writes through a symbolic link.
`,
		Args: cobra.NoArgs,
	}
	redisFlags(exp)
	var output string
	var force bool
	exp.Flags().StringVarP(&output, "output", "o", "", "file to write, readable by its owner only (default standard output)")
	exp.Flags().BoolVar(&force, "force", false, "replace the --output file if it exists")
	exp.RunE = func(cmd *cobra.Command, _ []string) error {
		cmd.SilenceUsage = true
		w := cmd.OutOrStdout()
		var file *importer.OutputFile
		if output != "" {
			var err error
			if file, err = importer.CreateOutput(output, force); err != nil {
				return fmt.Errorf("accounts export: %w", err)
			}
			defer file.Abort() // a failed export leaves the target as it was
			w = file
		}
		ctx, stop := interruptible()
		defer stop()
		n, err := accountsExport(ctx, w, opts, prefix)
		if err != nil {
			return err
		}
		if file != nil {
			if err := file.Commit(); err != nil {
				return fmt.Errorf("accounts export: %w", err)
			}
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "exported %d organizations, %d accounts and %d reservations\n", n.Organizations, n.Accounts, n.Reservations)
		return nil
	}
	cmd.AddCommand(imp, exp)
}

// defaultRedis fills in the Redis of opts when no --redis was given: the
// gateway's, as the top-level Caddyfile reads it: RESTCOMM_REDIS (else
// redis://127.0.0.1:6379/0), with the password of RESTCOMM_REDIS_PASSWORD
// when set. At the default address without a password given, that is the
// redis-server `up` starts, whose password `up` keeps in a file: it is
// read from there, as up reads it, so that the commands reach the Redis
// of the gateway up runs.
func defaultRedis(opts *store.ClientOptions) error {
	if len(opts.URLs) > 0 {
		return nil
	}
	url := os.Getenv("RESTCOMM_REDIS")
	opts.URLs = []string{cmp.Or(url, defaultRedisURL)}
	opts.Password = cmp.Or(opts.Password, os.Getenv("RESTCOMM_REDIS_PASSWORD"))
	if opts.Password != "" || cmp.Or(url, defaultRedisURL) != defaultRedisURL {
		return nil
	}
	file, err := localredis.PasswordFile()
	if err != nil {
		return nil // no home directory: no up either
	}
	pw, err := localredis.ReadPassword(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	}
	opts.Password = pw
	return nil
}

// defaultRedisURL is the top-level Caddyfile's Redis, and up's.
const defaultRedisURL = "redis://127.0.0.1:6379/0"

func openStore(opts store.ClientOptions, prefix string) (*store.Store, func(), error) {
	if err := defaultRedis(&opts); err != nil {
		return nil, nil, err
	}
	// an import's batches take longer than a request's commands
	opts.ReadTimeout, opts.WriteTimeout = 30*time.Second, 30*time.Second
	rdb, err := opts.NewClient()
	if err != nil {
		return nil, nil, err
	}
	return store.New(rdb, prefix), func() { _ = rdb.Close() }, nil
}

// accountsImport is "accounts import": it reads the source, imports it,
// shows progress on errw, prints the report on w and returns it.
func accountsImport(ctx context.Context, w, errw io.Writer, opts store.ClientOptions, prefix, from string, iopts importer.Options) (*importer.Report, error) {
	st, closeStore, err := openStore(opts, prefix)
	if err != nil {
		return nil, err
	}
	defer closeStore()
	if err := st.Ping(ctx); err != nil {
		return nil, fmt.Errorf("accounts import: Redis: %w", err)
	}
	fmt.Fprintf(errw, "reading %s\n", redact.URL(from))
	src, err := restcommdb.Read(ctx, from)
	if err != nil {
		if !iopts.DryRun {
			recordImportRun(st, nil, err, errw)
		}
		return nil, fmt.Errorf("accounts import: %w", err)
	}
	iopts.Progress = newProgress(errw)
	rep, err := importer.Run(ctx, st, src, iopts)
	if !iopts.DryRun {
		recordImportRun(st, rep, err, errw)
	}
	if err != nil {
		return nil, fmt.Errorf("accounts import: %w", err)
	}
	rep.Write(w)
	return rep, nil
}

// recordImportRun records the run's end in the namespace, where the
// gateways' metrics show it (restcomm_gateway_import_last_run_*): the
// import runs in a process no Prometheus scrapes. A run that read and
// imported is a success, rows skipped or not (--strict's exit status
// aside); one stopped by an error, the source's or Redis's, a failure. A
// failure to record is reported, and changes nothing else.
func recordImportRun(st *store.Store, rep *importer.Report, err error, errw io.Writer) {
	run := store.ImportRun{Result: store.ImportSucceeded, At: time.Now()}
	if err != nil {
		run.Result = store.ImportFailed
	} else if rep != nil {
		run.Accounts = rep.Accounts.Imported + rep.Accounts.Updated
	}
	// its own time: an interrupted import is recorded too
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if rerr := st.RecordImportRun(ctx, run); rerr != nil {
		fmt.Fprintf(errw, "accounts import: the run was not recorded for the gateways' metrics: %v\n", rerr)
	}
}

func accountsExport(ctx context.Context, w io.Writer, opts store.ClientOptions, prefix string) (importer.ExportCounts, error) {
	st, closeStore, err := openStore(opts, prefix)
	if err != nil {
		return importer.ExportCounts{}, err
	}
	defer closeStore()
	return importer.Export(ctx, st, w, namespace(prefix))
}

// namespace names the namespace of key_prefix prefix as its keys spell it:
// "{restcomm}" by default.
func namespace(prefix string) string {
	return "{" + cmp.Or(prefix, store.DefaultKeyPrefix) + "}"
}

// newProgress shows an import's progress: a bar redrawn in place on a
// terminal, otherwise a plain line at every tenth.
func newProgress(w io.Writer) func(done, total int) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	start := time.Now()
	lastTenth := -1
	return func(done, total int) {
		if total == 0 {
			return
		}
		pct := done * 100 / total
		if tty {
			const width = 40
			bar := strings.Repeat("#", pct*width/100) + strings.Repeat(" ", width-pct*width/100)
			fmt.Fprintf(w, "\r[%s] %3d%% %d/%d accounts, %s", bar, pct, done, total, time.Since(start).Round(time.Second))
			if done == total {
				fmt.Fprintln(w)
			}
			return
		}
		if tenth := pct / 10; tenth > lastTenth {
			lastTenth = tenth
			fmt.Fprintf(w, "%d%% %d/%d accounts, %s\n", pct, done, total, time.Since(start).Round(time.Millisecond))
		}
	}
}
