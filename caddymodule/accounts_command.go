package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/restcomm/restcomm-gateway/store"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "accounts",
		Usage: "seed|import|export|unblock [--redis <url>]... [--redis-master-name <name>] [--key-prefix <prefix>] ...",
		Short: "Seeds, imports and exports the gateway's accounts in Redis, and lifts failed-login blocks",
		Long: `
Works with the account store of the restcomm handler in Redis.

"accounts seed" marks the namespace as seeded and creates RestComm's
default organization and administrator (administrator@company.com,
password RestComm, status uninitialized), as a gateway with "seed auto"
does on its first request. It is for gateways run with "seed off", and
for starting over after Redis lost its data (gateways that had seen the
namespace answer 503 "Account store lost its data" until it is restored
from a backup or seeded again). It never overwrites: a namespace that is
already seeded is left as it is, and one holding accounts from before
namespaces were marked is only marked.

"accounts import --from <source>" imports an existing RestComm's accounts
and organizations (from its MariaDB/MySQL database, the restcomm.script
of HSQLDB, or an export), and marks the namespace; "accounts export"
writes the namespace's accounts and organizations as JSON lines, which an
import reads back: a backup and restore path.

"accounts unblock <login | client>" lifts a failed-login block.

Each subcommand's --help says more. The Redis options are those of the
Caddyfile's restcomm block; --redis defaults to $RESTCOMM_REDIS, else
redis://127.0.0.1:6379/0, with the password $RESTCOMM_REDIS_PASSWORD if
set, else, at that default address, the password 'up' keeps for the
redis-server it starts.
`,
		CobraFunc: func(cmd *cobra.Command) {
			seed := &cobra.Command{
				Use:   "seed",
				Short: "Seeds an empty namespace with RestComm's defaults and marks it",
				Args:  cobra.NoArgs,
			}
			var opts store.ClientOptions
			var prefix, domain string
			seed.Flags().StringArrayVar(&opts.URLs, "redis", nil, "Redis URL (repeat for Cluster seed nodes or Sentinels)")
			seed.Flags().StringVar(&opts.MasterName, "redis-master-name", "", "Sentinel: the monitored master's name")
			seed.Flags().StringVar(&prefix, "key-prefix", "", "the gateways' key_prefix (default restcomm)")
			seed.Flags().StringVar(&domain, "organization-domain", "", "the default organization's domain (default default.restcomm.com)")
			seed.RunE = func(cmd *cobra.Command, _ []string) error {
				if err := defaultRedis(&opts); err != nil { // accounts_import_command.go
					cmd.SilenceUsage = true
					return err
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := accountsSeed(ctx, cmd.OutOrStdout(), opts, prefix, domain); err != nil {
					cmd.SilenceUsage = true
					return err
				}
				return nil
			}
			cmd.AddCommand(seed, unblockCommand())
			addImportCommands(cmd) // accounts_import_command.go
			requireSubcommand(cmd) // command.go
		},
	})
}

// accountsSeed is "accounts seed": it seeds and marks the namespace unless
// it is marked already, and says what it found and did.
func accountsSeed(ctx context.Context, w io.Writer, opts store.ClientOptions, prefix, domain string) error {
	rdb, err := opts.NewClient()
	if err != nil {
		return err
	}
	defer rdb.Close()
	st := store.New(rdb, prefix)
	ns := namespace(prefix)
	res, err := st.Init(ctx, store.InitOptions{Seed: true, Domain: domain, By: "accounts seed", Version: gatewayVersion()})
	if err != nil {
		return fmt.Errorf("accounts seed %s: %w", ns, err)
	}
	switch res.State {
	case store.NamespaceSeeded:
		fmt.Fprintf(w, "%s: seeded RestComm's default organization %s and administrator %s (%s), password RestComm, status uninitialized: change the password at first login\n",
			ns, store.DefaultOrganizationSid, store.DefaultAdminEmail, store.DefaultAdminSid)
		if !res.Created.Organization || !res.Created.Admin {
			fmt.Fprintf(w, "%s: (finished a seeding begun earlier: organization created now: %t, administrator created now: %t)\n",
				ns, res.Created.Organization, res.Created.Admin)
		}
	case store.NamespaceAdopted:
		fmt.Fprintf(w, "%s: holds accounts written before namespaces were marked: marked it as seeded, created nothing\n", ns)
	case store.NamespaceMarked:
		m, err := st.Marker(ctx)
		if err != nil {
			return err
		}
		if m == nil {
			m = &store.Marker{}
		}
		fmt.Fprintf(w, "%s: already seeded (%s by %s, version %s): nothing to do\n", ns, m.Seeded, m.By, m.Version)
	default:
		return fmt.Errorf("accounts seed %s: unexpected state %s", ns, res.State)
	}
	return nil
}

// unblockTimeout bounds an unblock: a pass over the keys of the node that
// holds the namespace, in batches.
const unblockTimeout = 5 * time.Minute

// unblockCommand is "accounts unblock <login|ip>".
func unblockCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "unblock <login | client IP address | IPv6 network>",
		Short: "Lifts a failed-login block",
		Long: `
Lifts a block of the failed-login throttle, on every gateway at once, by
removing failed-login counts from Redis, and prints each count removed.

Given a client (192.0.2.7, 2001:db8:1:2::7, or a network such as
2001:db8:1:2::/64 or 192.0.2.0/24): the count of every client network it
overlaps (an IPv6 client is counted per network, /64 by default), and every
login's count from those networks.

Given a login (an e-mail address or a SID, compared as logins are): the
count of the account it names from every client, and the login's own (of
failures from before it named an account). A client's own count, which
blocks every login from it after 100 failures, is not the login's: unblock
the client for that.

Counts are found with SCAN on the node that holds the namespace (one hash
slot, Redis Cluster included), in batches; the command gives up after 5
minutes, saying how many it removed, and can be run again.
`,
		Args: cobra.ExactArgs(1),
	}
	var opts store.ClientOptions
	var prefix string
	c.Flags().StringArrayVar(&opts.URLs, "redis", nil, "Redis URL (repeat for Cluster seed nodes or Sentinels); default $RESTCOMM_REDIS, else redis://127.0.0.1:6379/0, with the password $RESTCOMM_REDIS_PASSWORD, else the one up keeps for its redis-server")
	c.Flags().StringVar(&opts.MasterName, "redis-master-name", "", "Sentinel: the monitored master's name")
	c.Flags().StringVar(&prefix, "key-prefix", "", "the gateways' key_prefix (default restcomm)")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := defaultRedis(&opts); err != nil { // accounts_import_command.go
			cmd.SilenceUsage = true
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), unblockTimeout)
		defer cancel()
		if err := accountsUnblock(ctx, cmd.OutOrStdout(), opts, prefix, args[0]); err != nil {
			cmd.SilenceUsage = true
			return err
		}
		return nil
	}
	return c
}

// accountsUnblock is "accounts unblock": it removes the failed-login
// counts of a client or of a login, and says which.
func accountsUnblock(ctx context.Context, w io.Writer, opts store.ClientOptions, prefix, arg string) error {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		return errors.New("accounts unblock: give a login (e-mail address or SID) or a client IP address or network")
	}
	rdb, err := opts.NewClient()
	if err != nil {
		return err
	}
	defer rdb.Close()
	st := store.New(rdb, prefix)
	ns := namespace(prefix)
	removed, failures := 0, 0
	report := func(c store.RemovedCounter) {
		removed++
		failures += c.Failures
		fmt.Fprintf(w, "%s: removed %s (%d failed logins)\n", ns, c.Key, c.Failures)
	}
	what := "login " + arg
	if client, ok := parseClient(arg); ok {
		what = "client " + client.String()
		err = st.UnblockClient(ctx, client, report)
	} else {
		err = st.UnblockLogin(ctx, arg, report)
	}
	if err != nil {
		return fmt.Errorf("accounts unblock %s: %s: stopped after removing %d counts: %w", ns, what, removed, err)
	}
	if removed == 0 {
		fmt.Fprintf(w, "%s: no failed logins counted for %s: nothing to remove\n", ns, what)
		return nil
	}
	fmt.Fprintf(w, "%s: unblocked %s: removed %d counts (%d failed logins)\n", ns, what, removed, failures)
	return nil
}

// parseClient reads a client IP address (IPv6 in brackets or not) or a
// network in CIDR notation.
func parseClient(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.WithZone("").Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}
