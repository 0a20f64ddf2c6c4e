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

	"github.com/restcomm/restcomm-gateway/store"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "accounts",
		Usage: "seed [--redis <url>]... [--redis-master-name <name>] [--key-prefix <prefix>] [--organization-domain <domain>]",
		Short: "Seeds the RestComm gateway's account store",
		Long: `
Works with the account store of the restcomm handler in Redis.

"accounts seed" marks the namespace as seeded and creates RestComm's
default organization and administrator (administrator@company.com,
password RestComm, status uninitialized), as a gateway with "seed auto"
does on its first request. It is for gateways run with "seed off", and
for starting over after Redis lost its data (gateways that had seen the
namespace answer 503 "Account store lost its data" until it is restored
from a backup or seeded again).

It never overwrites: a namespace that is already seeded is left as it is,
and one holding accounts from before namespaces were marked is only
marked. The Redis options are those of the Caddyfile's restcomm block;
--redis defaults to $RESTCOMM_REDIS, else redis://127.0.0.1:6379/0.
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
				if len(opts.URLs) == 0 {
					opts.URLs = []string{cmp.Or(os.Getenv("RESTCOMM_REDIS"), "redis://127.0.0.1:6379/0")}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := accountsSeed(ctx, cmd.OutOrStdout(), opts, prefix, domain); err != nil {
					cmd.SilenceUsage = true
					return err
				}
				return nil
			}
			cmd.AddCommand(seed)
			addImportCommands(cmd) // accounts_import_command.go
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
