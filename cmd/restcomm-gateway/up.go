package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"github.com/spf13/cobra"

	"github.com/restcomm/restcomm-gateway/internal/localredis"
	"github.com/restcomm/restcomm-gateway/internal/redact"
	"github.com/restcomm/restcomm-gateway/internal/redislog"
	"github.com/restcomm/restcomm-gateway/store"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "up",
		Usage: "[--config <path>] [--no-install] [--require-durable]",
		Short: "Runs the gateway, starting a local redis-server first if none answers",
		Long: `
Runs the gateway like 'run', after making sure Redis answers.

At the default address (RESTCOMM_REDIS unset, or redis://127.0.0.1:6379/0,
and RESTCOMM_REDIS_PASSWORD unset), when nothing answers, it starts a
redis-server on 127.0.0.1 only, with a password of its own and an
append-only file flushed every second (appendonly yes, appendfsync
everysec), keeping its data under $XDG_STATE_HOME/restcomm-gateway/redis
(or ~/.local/state/…). The password is made once (crypto/rand), kept in
the file "password" there, readable by its owner only, and reused; the
gateway gets it in RESTCOMM_REDIS_PASSWORD, which the Caddyfile reads at
run time ({env.…}), so that it is in no adapted config. When redis-server
is missing it installs Debian's package first (as root, unless
--no-install), and gives the redis-server the package starts that
password and an append-only file. A Redis that answers at the default
address without a password is used with a warning, unless an earlier
'up' started it: then 'up' says how to restart it with a password.

A RESTCOMM_REDIS given otherwise must answer: 'up' never starts a Redis
for it, and says which URL (its password hidden) did not answer.

A Redis that 'up' did not start is checked (CONFIG GET appendonly,
appendfsync): when it does not keep every change it acknowledges, or its
settings cannot be read (CONFIG disabled on managed Redis), 'up' says what
is missing and how to fix it, and goes on; with --require-durable it
refuses to start instead.

Unless RESTCOMM_BIND is set, 'up' sets it for the Caddyfile: loopback
only (127.0.0.1 and ::1) while RESTCOMM_SITE names this machine
(localhost, the default, or a loopback address), the address itself when
it names an IP address, every interface when it names a host.

Once the namespace is seeded, 'up' says loudly on standard error when
RestComm's default administrator has the password every RestComm ships.

The config defaults to ./Caddyfile, the repository's deployment Caddyfile.`,
		Func: cmdUp,
		Flags: func() *flag.FlagSet {
			fs := flag.NewFlagSet("up", flag.ExitOnError)
			fs.String("config", "Caddyfile", "Caddyfile to run")
			fs.Bool("no-install", false, "never install redis-server")
			fs.Bool("require-durable", false, "refuse to start unless Redis keeps an append-only file flushed at least every second")
			return fs
		}(),
	})
}

const (
	defaultRedisURL = "redis://127.0.0.1:6379/0"
	defaultSite     = "https://localhost:8443"
	// envRedisPassword is the Redis password the Caddyfile reads at run
	// time (redis_password {env.RESTCOMM_REDIS_PASSWORD}): up sets it for
	// the redis-server it keeps the password of.
	envRedisPassword = "RESTCOMM_REDIS_PASSWORD"
	envBind          = "RESTCOMM_BIND"
)

func cmdUp(fl caddycmd.Flags) (int, error) {
	config := fl.String("config")
	if _, err := os.Stat(config); err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("config %s: %w (run from the repository root or pass --config)", config, err)
	}
	url, own := redisTarget(os.Getenv)
	r, err := ensureRedis(os.Stderr, url, own, !fl.Bool("no-install"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if r.how == redisInstalled {
		if err := enableAOF(os.Stderr, r.opt); err != nil {
			fmt.Fprintf(os.Stderr, "redis: could not turn on the append-only file: %v\n", err)
		}
	}
	if err := checkDurability(os.Stderr, r.opt, fl.Bool("require-durable")); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if r.password != "" {
		if err := os.Setenv(envRedisPassword, r.password); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
	}
	site := cmp.Or(os.Getenv("RESTCOMM_SITE"), defaultSite)
	if bind := os.Getenv(envBind); bind != "" {
		fmt.Fprintf(os.Stderr, "gateway: listening on %s (%s)\n", bind, envBind)
	} else { // an empty RESTCOMM_BIND would make Caddy listen nowhere
		bind, why := bindFor(site, canListen("[::1]:0"), canListen("[::]:0"))
		fmt.Fprintf(os.Stderr, "gateway: listening on %s (%s)\n", bind, why)
		if err := os.Setenv(envBind, bind); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
	}

	// The gateway seeds an empty namespace on its first request: watch
	// for it from here, in the gateway's process, with up's own client,
	// in the namespace of the default key_prefix (the top-level
	// Caddyfile's).
	st := store.New(redis.NewClient(r.opt), "")
	go watchSeeding(context.Background(), os.Stderr, st, siteURL(site), time.Second)

	// go-redis's log, silenced while up probed Redis, is the gateway's again
	logging.Enable()
	return runGateway(config)
}

// runGateway is `restcomm-gateway run --config config` in this process
// (the same signals and exit codes), so that watchSeeding keeps running
// beside it.
func runGateway(config string) (int, error) {
	run, ok := caddycmd.Commands()["run"]
	if !ok || run.CobraFunc == nil {
		return caddy.ExitCodeFailedStartup, errors.New("the run command is not registered")
	}
	cmd := &cobra.Command{Use: run.Name, SilenceUsage: true}
	run.CobraFunc(cmd)
	cmd.SetArgs([]string{"--config", config, "--adapter", "caddyfile"})
	if err := cmd.Execute(); err != nil {
		// run has logged its error already, through Caddy's logger
		os.Exit(caddy.ExitCodeFailedStartup)
	}
	return caddy.ExitCodeSuccess, nil
}

// redisTarget is the Redis up makes sure of (RESTCOMM_REDIS, or the
// default) and whether up may start and keep one there: only at the
// default address, and when the user gave no password for it. A URL the
// user gave is never replaced by a Redis of up's: a typo must not get a
// fresh, empty Redis seeded with the well-known password.
func redisTarget(getenv func(string) string) (url string, own bool) {
	url = cmp.Or(getenv("RESTCOMM_REDIS"), defaultRedisURL)
	return url, url == defaultRedisURL && getenv(envRedisPassword) == ""
}

// How ensureRedis found a Redis answering.
const (
	redisRunning   = "running"   // it answered already
	redisInstalled = "installed" // the redis-server package just installed started it
	redisStarted   = "started"   // ensureRedis started it
)

// foundRedis is the Redis ensureRedis made sure of.
type foundRedis struct {
	opt *redis.Options // to reach it, password included
	how string
	// password is the one up keeps for it in passwordFile, for the
	// gateway; "" when up keeps none for it.
	password, passwordFile string
}

// ensureRedis makes sure a Redis answers at url, telling w what it finds
// and does (never a password). Only when own (redisTarget) may it start
// one, or install Debian's redis-server package.
func ensureRedis(w io.Writer, url string, own, install bool) (*foundRedis, error) {
	opt, err := store.ParseRedisURL(url)
	if err != nil {
		return nil, fmt.Errorf("RESTCOMM_REDIS: %w", err)
	}
	if !own {
		return givenRedis(w, url, opt)
	}
	host, port, err := net.SplitHostPort(opt.Addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("redis: %s is not a loopback address", opt.Addr)
	}
	dir, err := localredis.Dir()
	if err != nil {
		return nil, err
	}
	r := &foundRedis{opt: opt, passwordFile: filepath.Join(dir, "password")}
	switch err := ping(opt); {
	case err == nil:
		if err := passwordless(w, opt, dir); err != nil {
			return nil, err
		}
		r.how = redisRunning
		return r, nil
	case isAuthError(err):
		if r.password, err = localredis.ReadPassword(r.passwordFile); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("redis: the Redis at %s requires a password, and up keeps none for it (no %s): "+
				"give it in %s", opt.Addr, r.passwordFile, envRedisPassword)
		} else if err != nil {
			return nil, err
		}
		opt.Password = r.password
		if err := ping(opt); err != nil {
			return nil, fmt.Errorf("redis: the Redis at %s refuses the password in %s (%v): give its own in %s",
				opt.Addr, r.passwordFile, err, envRedisPassword)
		}
		fmt.Fprintf(w, "redis: answering at %s (password in %s)\n", opt.Addr, r.passwordFile)
		r.how = redisRunning
		return r, nil
	case !isDown(err):
		return nil, fmt.Errorf("redis: %s: %w", opt.Addr, err)
	}

	if _, err := exec.LookPath("redis-server"); err != nil {
		if !install {
			return nil, errors.New("redis-server is not installed (apt-get install redis-server)")
		}
		if err := aptInstall("redis-server"); err != nil {
			return nil, err
		}
		if ping(opt) == nil { // the package started its own service, without a password
			if r.password, err = makePassword(r.passwordFile); err != nil {
				return nil, err
			}
			if err := requirePassword(w, opt, r.password, r.passwordFile); err != nil {
				return nil, err
			}
			opt.Password = r.password
			r.how = redisInstalled
			return r, nil
		}
	}
	if r.password, err = makePassword(r.passwordFile); err != nil {
		return nil, err
	}
	opt.Password = r.password
	fmt.Fprintf(w, "redis: starting redis-server on %s (data in %s, password in %s)\n", opt.Addr, dir, r.passwordFile)
	// The password goes in on standard input ("-": a config file read from
	// it), never on the command line, which every user can read.
	cmd := exec.Command("redis-server", "-",
		"--bind", host, "--port", port, "--daemonize", "yes",
		"--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec",
		"--logfile", filepath.Join(dir, "redis.log"),
		"--pidfile", filepath.Join(dir, "redis.pid"))
	cmd.Stdin = strings.NewReader("requirepass " + r.password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-server: %v: %s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ping(opt); err == nil {
			r.how = redisStarted
			return r, nil
		} else if time.Now().After(deadline) {
			return nil, fmt.Errorf("redis-server did not answer at %s (see %s): %w", opt.Addr, filepath.Join(dir, "redis.log"), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// givenRedis makes sure the Redis the user named answers, with the
// password of RESTCOMM_REDIS_PASSWORD if set.
func givenRedis(w io.Writer, url string, opt *redis.Options) (*foundRedis, error) {
	if pw := os.Getenv(envRedisPassword); pw != "" {
		opt.Password = pw
	}
	if err := ping(opt); err != nil {
		if isDown(err) {
			return nil, fmt.Errorf("redis: nothing answers at %s (RESTCOMM_REDIS): %v; up starts a Redis of its own "+
				"only at the default address (RESTCOMM_REDIS unset, and no %s)", redact.URL(url), err, envRedisPassword)
		}
		return nil, fmt.Errorf("redis: the Redis at %s (RESTCOMM_REDIS) answers: %v", redact.URL(url), err)
	}
	fmt.Fprintf(w, "redis: answering at %s\n", redact.URL(url))
	return &foundRedis{opt: opt, how: redisRunning}, nil
}

// passwordless deals with a Redis that answers at the default address
// without a password: one that an earlier up started (its data is in up's
// state directory) is refused, with how to restart it with a password;
// any other is the user's own, used with a warning.
func passwordless(w io.Writer, opt *redis.Options, dir string) error {
	c, ctx, done := quietClient(opt, 3*time.Second)
	defer done()
	cli := redisCLI(opt)
	if m, err := c.ConfigGet(ctx, "dir").Result(); err == nil && sameDir(m["dir"], dir) {
		fmt.Fprintf(w, `redis: the redis-server at %s was started by an earlier 'up' without a password.
  Any process on this machine can read every account's auth token from it and change any account.
  'up' now starts it with a password (kept in %s). To restart it
  with one, keeping its data:
    %s shutdown
    restcomm-gateway up
`, opt.Addr, filepath.Join(dir, "password"), cli)
		return fmt.Errorf("redis: refusing to run the gateway on the redis-server at %s, which has no password (see above)", opt.Addr)
	}
	fmt.Fprintf(w, `WARNING: the Redis at %s has no password.
  Any process on this machine can read every account's auth token from it and change any account.
  To fix it, give it one (requirepass in its redis.conf, Debian: /etc/redis/redis.conf, and restart
  it; or %s CONFIG SET requirepass <password>, then CONFIG REWRITE) and give the gateway the same
  password in %s.
`, opt.Addr, cli, envRedisPassword)
	return nil
}

// sameDir reports whether Redis's working directory got is dir, which
// Redis reports with symbolic links resolved.
func sameDir(got, dir string) bool {
	if got == "" {
		return false
	}
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	return filepath.Clean(got) == filepath.Clean(dir)
}

// requirePassword gives the Redis that Debian's package just started the
// password kept in file, now (CONFIG SET) and for its next start (CONFIG
// REWRITE into its redis.conf).
func requirePassword(w io.Writer, opt *redis.Options, password, file string) error {
	c, ctx, done := quietClient(opt, 5*time.Second)
	defer done()
	if err := c.ConfigSet(ctx, "requirepass", password).Err(); err != nil {
		return fmt.Errorf("redis: could not give the redis-server just installed a password: %w", err)
	}
	if err := c.ConfigRewrite(ctx).Err(); err != nil {
		fmt.Fprintf(w, "WARNING: the redis-server just installed keeps its password only until it restarts: CONFIG REWRITE failed (%v); "+
			"add requirepass to its redis.conf (Debian: /etc/redis/redis.conf), with the password in %s\n", err, file)
	}
	fmt.Fprintf(w, "redis: gave the redis-server just installed a password (in %s)\n", file)
	return nil
}

// isAuthError reports whether Redis answered, refusing for want of the
// right password (NOAUTH, WRONGPASS, or a password given to a Redis that
// has none).
func isAuthError(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	return strings.HasPrefix(msg, "NOAUTH") || strings.HasPrefix(msg, "WRONGPASS") ||
		strings.Contains(msg, "without any password configured")
}

// isDown reports whether nothing answered: the connection could not be
// made.
func isDown(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// makePassword returns the Redis password kept in file, making one (32
// random bytes, hex) when there is none. The file is created readable by
// its owner only and exclusively, so that two up's at once agree.
func makePassword(file string) (string, error) {
	pw, err := localredis.ReadPassword(file)
	if !errors.Is(err, fs.ErrNotExist) {
		return pw, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	pw = hex.EncodeToString(b)
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return localredis.ReadPassword(file) // another up made it meanwhile
	} else if err != nil {
		return "", err
	}
	_, err = f.WriteString(pw + "\n")
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(file)
		return "", err
	}
	return pw, nil
}

// canListen reports whether this machine can listen on addr (an IPv6
// address, say: a container may have none).
func canListen(addr string) bool {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// bindFor is RESTCOMM_BIND for the site addresses site (RESTCOMM_SITE's
// value), with why: loopback only for addresses of this machine
// (localhost, *.localhost, loopback IPs), an IP address itself, and every
// interface for host names, wildcards and addresses without a host.
// loopback6 and any6 say whether ::1 and :: can be listened on.
func bindFor(site string, loopback6, any6 bool) (bind, why string) {
	var hosts []string
	seen := map[string]bool{}
	add := func(h ...string) {
		for _, x := range h {
			if !seen[x] {
				seen[x] = true
				hosts = append(hosts, x)
			}
		}
	}
	loopback := []string{"127.0.0.1"}
	if loopback6 {
		loopback = append(loopback, "[::1]")
	}
	for _, addr := range strings.FieldsFunc(site, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		h, all := bindOf(siteHost(addr), loopback)
		if all {
			every := "0.0.0.0"
			if any6 {
				every += " [::]"
			}
			return every, fmt.Sprintf("every interface, as RESTCOMM_SITE names %q; set %s to choose", addr, envBind)
		}
		add(h...)
	}
	if len(hosts) == 0 {
		add(loopback...)
	}
	return strings.Join(hosts, " "), fmt.Sprintf("the addresses RESTCOMM_SITE %q names; set %s to choose", site, envBind)
}

// bindOf is what a site address's host listens on: the loopback
// addresses for this machine, an IP address itself, and every interface
// (all) for anything else: a host name, a wildcard, a placeholder, an
// unspecified address or none.
func bindOf(host string, loopback []string) (addrs []string, all bool) {
	ip := net.ParseIP(host)
	switch {
	case host == "localhost" || strings.HasSuffix(host, ".localhost") || ip != nil && ip.IsLoopback():
		return loopback, false
	case ip == nil || ip.IsUnspecified():
		return nil, true
	case ip.To4() != nil:
		return []string{ip.String()}, false
	}
	return []string{"[" + ip.String() + "]"}, false
}

// siteHost is the host of a Caddyfile site address ("https://h:8443",
// "h:8443", "[::1]:8443", ":8443", "h/path").
func siteHost(addr string) string {
	if _, rest, ok := strings.Cut(addr, "://"); ok {
		addr = rest
	}
	if i := strings.IndexByte(addr, '/'); i >= 0 {
		addr = addr[:i]
	}
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return strings.ToLower(h)
	}
	return strings.ToLower(strings.Trim(addr, "[]"))
}

// siteURL is the first site address as a URL, for the commands up prints.
func siteURL(site string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(site), ",")
	first = strings.TrimSpace(first)
	if first == "" {
		return defaultSite
	}
	if !strings.Contains(first, "://") {
		first = "https://" + first
	}
	return strings.TrimSuffix(first, "/")
}

// watchSeeding tells w, loudly, when the namespace's default
// administrator has the password every RestComm ships: at once when the
// namespace was already marked, or as soon as it is (the gateway seeds an
// empty namespace on its first request). It reads the marker every
// `every` until it finds it, then the administrator once, and stops.
func watchSeeding(ctx context.Context, w io.Writer, st *store.Store, site string, every time.Duration) {
	first, markedBefore := true, false
	for {
		m, err := st.Marker(ctx)
		if err == nil {
			if first {
				first, markedBefore = false, m != nil
			}
			if m != nil && m.State != "seeding" {
				a, err := st.Account(ctx, store.DefaultAdminSid)
				if err == nil && a.AuthToken == store.DefaultAdminAuthToken {
					fmt.Fprint(w, shippedPasswordNotice(site, m, !markedBefore))
				}
				if err == nil || errors.Is(err, store.ErrNotFound) {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// shippedPasswordNotice is the framed notice that the default
// administrator logs in with RestComm's shipped password.
func shippedPasswordNotice(site string, m *store.Marker, seededNow bool) string {
	what := "RestComm's default administrator still has the password every RestComm ships."
	if seededNow {
		what = fmt.Sprintf("The namespace was just seeded (by %s) with RestComm's default administrator,", cmp.Or(m.By, "a gateway"))
	}
	lines := []string{
		"WARNING: " + what,
		"",
		"  " + store.DefaultAdminEmail + " (" + store.DefaultAdminSid + ")",
		"  logs in with the password RestComm, which every RestComm installation ships with:",
		"  anyone who reaches this gateway can act as that administrator until it is changed.",
		"",
		"Change it now:",
		"  curl -k -u " + store.DefaultAdminEmail + ":RestComm -X PUT -d Password='<new password>' \\",
		"    " + site + "/restcomm/2012-04-24/Accounts.json/" + store.DefaultAdminSid,
		"",
		"In production, import RestComm's own accounts first (restcomm-gateway accounts import)",
		"or run with 'seed off' (docs/operating.md, \"Seeding, and a Redis that lost its data\").",
	}
	width := 0
	for _, l := range lines {
		width = max(width, len(l))
	}
	border := strings.Repeat("#", width+6)
	var b strings.Builder
	b.WriteString("\n" + border + "\n")
	for _, l := range lines {
		b.WriteString("## " + l + strings.Repeat(" ", width-len(l)) + " ##\n")
	}
	b.WriteString(border + "\n\n")
	return b.String()
}

// quietClient is a client of opt that tries each command once, and the
// context of its commands, which ends after d and keeps go-redis from
// logging about them (a refused PING is expected here); done releases
// both. go-redis's logger itself is the process's, left as it is
// (redislog.Install): the gateway 'up' runs logs through it.
func quietClient(opt *redis.Options, d time.Duration) (c *redis.Client, ctx context.Context, done func()) {
	o := *opt
	o.MaxRetries = -1
	c = redis.NewClient(&o)
	ctx, cancel := context.WithTimeout(redislog.Quiet(context.Background()), d)
	return c, ctx, func() { cancel(); _ = c.Close() }
}

func ping(opt *redis.Options) error {
	c, ctx, done := quietClient(opt, time.Second)
	defer done()
	return c.Ping(ctx).Err()
}

func aptInstall(pkg string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s is not installed; run: sudo apt-get install -y %s", pkg, pkg)
	}
	fmt.Fprintf(os.Stderr, "installing %s with apt-get\n", pkg)
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", pkg}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %v: %w", args, err)
		}
	}
	return nil
}
