// Command restcomm-standin runs a stand-in RestComm Connect on this
// machine, to try the gateway in front of something without a RestComm
// of one's own: a throw-away MariaDB (started in a temporary directory,
// never the machine's own) holding RestComm's two account tables with
// RestComm's default organization and administrator, and an HTTP server
// answering RestComm's API as internal/testkit/restcommtest describes it
// (authentication against that database, the status gate, Accounts,
// Calls, Clients). It is not RestComm: its answers are RestComm's
// statuses in RestComm's field names, enough to see what passes through
// the gateway. Ctrl-C stops it and removes its database.
//
//	go run ./cmd/restcomm-standin [--listen 127.0.0.1:8080] [--accounts N]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/restcomm/restcomm-gateway/internal/testkit/mariadbtest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, nil); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "restcomm-standin:", err)
		}
		os.Exit(2)
	}
}

// maxAccounts bounds --accounts: the generated accounts are inserted at
// start, and a stand-in is for trying things, not for load.
const maxAccounts = 100_000

// ready, when not nil, is given the stand-in's address and its database's
// URL once it serves (for tests).
func run(ctx context.Context, args []string, out io.Writer, ready func(addr, database string)) error {
	fs := flag.NewFlagSet("restcomm-standin", flag.ContinueOnError)
	fs.SetOutput(out)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve RestComm's API on (the gateway's default upstream)")
	n := fs.Int("accounts", 0, fmt.Sprintf("generated accounts besides the default administrator, in three levels and every status (at most %d)", maxAccounts))
	fs.Usage = func() {
		fmt.Fprintln(out, "Usage: restcomm-standin [--listen ADDR] [--accounts N]")
		fmt.Fprintln(out, "\nRuns a stand-in RestComm Connect on a throw-away MariaDB, until interrupted.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *n < 0 || *n > maxAccounts {
		return fmt.Errorf("--accounts %d: between 0 and %d", *n, maxAccounts)
	}
	// Listen first: a taken address fails before MariaDB is set up.
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	defer l.Close()

	fmt.Fprintln(out, "starting MariaDB in a temporary directory …")
	srv, err := mariadbtest.Launch()
	if err != nil {
		return err
	}
	defer srv.Close()
	database, err := srv.CreateDatabase("restcomm")
	if err != nil {
		return err
	}
	db, err := srv.Open("restcomm")
	if err != nil {
		return err
	}
	defer db.Close()
	data := restcommtest.Generate(*n, false)
	if err := restcommtest.CreateSchema(ctx, db); err != nil {
		return err
	}
	if err := data.Insert(ctx, db); err != nil {
		return err
	}
	rc, err := restcommtest.Serve(db, l)
	if err != nil {
		return err
	}
	defer rc.Close()

	fmt.Fprintf(out, `stand-in RestComm on http://%[1]s%[2]s
  accounts: %[3]d, among them RestComm's default administrator
            %[4]s, administrator@company.com, password RestComm (active)
  its database, for accounts import --from and a mirror:
            %[5]s
Ctrl-C stops it and removes its database.
`, l.Addr(), restcommtest.APIRoot, len(data.Accounts), restcommtest.AdminSid, database)
	if ready != nil {
		ready(l.Addr().String(), database)
	}
	<-ctx.Done()
	fmt.Fprintln(out, "stopping")
	return nil
}
