package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/redis/go-redis/v9"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "up",
		Usage: "[--config <path>] [--no-install] [--require-durable]",
		Short: "Runs the gateway, starting a local redis-server first if none answers",
		Long: `
Runs the gateway like 'run', after making sure Redis answers at
RESTCOMM_REDIS (default redis://127.0.0.1:6379/0). When nothing answers
there and the address is on this machine, it starts a redis-server on that
port with an append-only file flushed every second (appendonly yes,
appendfsync everysec), keeping its data under
$XDG_STATE_HOME/restcomm-gateway/redis (or ~/.local/state/…); when
redis-server is missing it installs Debian's package first (as root,
unless --no-install) and turns on the append-only file of the
redis-server the package starts.

A Redis that 'up' did not start is checked (CONFIG GET appendonly,
appendfsync): when it does not keep every change it acknowledges, or its
settings cannot be read (CONFIG disabled on managed Redis), 'up' says what
is missing and how to fix it, and goes on; with --require-durable it
refuses to start instead.

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

const defaultRedisURL = "redis://127.0.0.1:6379/0"

func cmdUp(fl caddycmd.Flags) (int, error) {
	config := fl.String("config")
	if _, err := os.Stat(config); err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("config %s: %w (run from the repository root or pass --config)", config, err)
	}
	url := os.Getenv("RESTCOMM_REDIS")
	if url == "" {
		url = defaultRedisURL
	}
	opt, how, err := ensureRedis(url, !fl.Bool("no-install"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if how == redisInstalled {
		if err := enableAOF(os.Stderr, opt); err != nil {
			fmt.Fprintf(os.Stderr, "redis: could not turn on the append-only file: %v\n", err)
		}
	}
	if err := checkDurability(os.Stderr, opt, fl.Bool("require-durable")); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	self, err := os.Executable()
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	// Become `restcomm-gateway run`: same process, signals and exit code.
	err = syscall.Exec(self, []string{self, "run", "--config", config, "--adapter", "caddyfile"}, os.Environ())
	return caddy.ExitCodeFailedStartup, fmt.Errorf("exec %s run: %w", self, err)
}

// How ensureRedis found a Redis answering.
const (
	redisRunning   = "running"   // it answered already
	redisInstalled = "installed" // the redis-server package just installed started it
	redisStarted   = "started"   // ensureRedis started it
)

// ensureRedis makes sure a Redis answers at url, starting a local one when
// the address is a loopback one, and says how it found it.
func ensureRedis(url string, install bool) (*redis.Options, string, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, "", fmt.Errorf("RESTCOMM_REDIS: %w", err)
	}
	if ping(opt) == nil {
		fmt.Fprintf(os.Stderr, "redis: answering at %s\n", opt.Addr)
		return opt, redisRunning, nil
	}
	host, port, err := net.SplitHostPort(opt.Addr)
	if err != nil {
		return nil, "", err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, "", fmt.Errorf("redis: nothing answers at %s, and it is not on this machine", opt.Addr)
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		if !install {
			return nil, "", errors.New("redis-server is not installed (apt-get install redis-server)")
		}
		if err := aptInstall("redis-server"); err != nil {
			return nil, "", err
		}
		if ping(opt) == nil { // the package may have started its own service
			return opt, redisInstalled, nil
		}
	}
	dir, err := stateDir()
	if err != nil {
		return nil, "", err
	}
	fmt.Fprintf(os.Stderr, "redis: starting redis-server on %s (data in %s)\n", opt.Addr, dir)
	cmd := exec.Command("redis-server",
		"--bind", host, "--port", port, "--daemonize", "yes",
		"--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec",
		"--logfile", filepath.Join(dir, "redis.log"),
		"--pidfile", filepath.Join(dir, "redis.pid"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("redis-server: %v: %s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ping(opt); err == nil {
			return opt, redisStarted, nil
		} else if time.Now().After(deadline) {
			return nil, "", fmt.Errorf("redis-server did not answer at %s (see %s): %w", opt.Addr, filepath.Join(dir, "redis.log"), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// quiet drops go-redis's own log lines: a refused PING is expected here.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// quietClient is a client of opt that tries each command once and logs
// nothing, and the context of its commands, which ends after d; done
// releases both.
func quietClient(opt *redis.Options, d time.Duration) (c *redis.Client, ctx context.Context, done func()) {
	redis.SetLogger(quiet{})
	o := *opt
	o.MaxRetries = -1
	c = redis.NewClient(&o)
	ctx, cancel := context.WithTimeout(context.Background(), d)
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

func stateDir() (string, error) {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(home, ".local", "state")
	}
	dir := filepath.Join(base, "restcomm-gateway", "redis")
	return dir, os.MkdirAll(dir, 0o700)
}
