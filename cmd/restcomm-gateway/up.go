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
		Usage: "[--config <path>] [--no-install]",
		Short: "Runs the gateway, starting a local redis-server first if none answers",
		Long: `
Runs the gateway like 'run', after making sure Redis answers at
RESTCOMM_REDIS (default redis://127.0.0.1:6379/0). When nothing answers
there and the address is on this machine, it starts a redis-server on that
port, keeping its data under $XDG_STATE_HOME/restcomm-gateway/redis (or
~/.local/state/…); when redis-server is missing it installs Debian's
package first (as root, unless --no-install).

The config defaults to ./Caddyfile, the repository's deployment Caddyfile.`,
		Func: cmdUp,
		Flags: func() *flag.FlagSet {
			fs := flag.NewFlagSet("up", flag.ExitOnError)
			fs.String("config", "Caddyfile", "Caddyfile to run")
			fs.Bool("no-install", false, "never install redis-server")
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
	if err := ensureRedis(url, !fl.Bool("no-install")); err != nil {
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

// ensureRedis makes sure a Redis answers at url, starting a local one when
// the address is a loopback one.
func ensureRedis(url string, install bool) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("RESTCOMM_REDIS: %w", err)
	}
	if ping(opt) == nil {
		fmt.Fprintf(os.Stderr, "redis: answering at %s\n", opt.Addr)
		return nil
	}
	host, port, err := net.SplitHostPort(opt.Addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("redis: nothing answers at %s, and it is not on this machine", opt.Addr)
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		if !install {
			return errors.New("redis-server is not installed (apt-get install redis-server)")
		}
		if err := aptInstall("redis-server"); err != nil {
			return err
		}
		if ping(opt) == nil { // the package may have started its own service
			return nil
		}
	}
	dir, err := stateDir()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "redis: starting redis-server on %s (data in %s)\n", opt.Addr, dir)
	cmd := exec.Command("redis-server",
		"--bind", host, "--port", port, "--daemonize", "yes",
		"--dir", dir, "--appendonly", "yes",
		"--logfile", filepath.Join(dir, "redis.log"),
		"--pidfile", filepath.Join(dir, "redis.pid"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("redis-server: %v: %s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ping(opt); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("redis-server did not answer at %s (see %s): %w", opt.Addr, filepath.Join(dir, "redis.log"), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// quiet drops go-redis's own log lines: a refused PING is expected here.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func ping(opt *redis.Options) error {
	redis.SetLogger(quiet{})
	o := *opt
	o.MaxRetries = -1
	c := redis.NewClient(&o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
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
