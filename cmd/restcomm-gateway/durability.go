package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// durability is what a Redis says about keeping the writes it acknowledged.
type durability struct {
	appendonly  string // "yes" or "no"
	appendfsync string // "always", "everysec" or "no"
	save        string // RDB snapshot schedule
	err         error  // CONFIG GET failed: disabled, renamed or not permitted
}

// durable: every acknowledged write is in the append-only file, which is
// flushed to disk at least every second.
func (d durability) durable() bool {
	return d.err == nil && d.appendonly == "yes" && (d.appendfsync == "everysec" || d.appendfsync == "always")
}

// readDurability asks a Redis for its persistence settings.
func readDurability(opt *redis.Options) durability {
	c, ctx, done := quietClient(opt, 3*time.Second)
	defer done()
	var d durability
	for _, s := range []struct {
		name string
		dst  *string
	}{{"appendonly", &d.appendonly}, {"appendfsync", &d.appendfsync}, {"save", &d.save}} {
		name, dst := s.name, s.dst
		m, err := c.ConfigGet(ctx, name).Result()
		if err != nil {
			d.err = err
			return d
		}
		v, ok := m[name]
		if !ok && name != "save" {
			d.err = fmt.Errorf("CONFIG GET %s: no such setting", name)
			return d
		}
		*dst = v
	}
	return d
}

// checkDurability tells w whether the Redis at opt keeps every write it
// acknowledges (an append-only file flushed at least every second) and, if
// not, what is missing and how to fix it. With require, a Redis that does
// not, or whose settings cannot be read, is an error.
func checkDurability(w io.Writer, opt *redis.Options, require bool) error {
	d := readDurability(opt)
	if d.durable() {
		loss := "a crash of its host loses at most about the last second of changes"
		if d.appendfsync == "always" {
			loss = "each change is on disk before it is acknowledged"
		}
		fmt.Fprintf(w, "redis: %s keeps an append-only file (appendonly yes, appendfsync %s): %s\n", opt.Addr, d.appendfsync, loss)
		return nil
	}
	cli := redisCLI(opt)
	var b strings.Builder
	switch {
	case d.err != nil:
		fmt.Fprintf(&b, `WARNING: cannot tell whether the Redis at %s keeps the account changes it acknowledges:
  CONFIG GET failed (%v).
  Managed Redis services often disable or rename CONFIG. Make sure, in the service's settings,
  that persistence is an append-only file (AOF) flushed every second (appendonly yes,
  appendfsync everysec), or replicas; snapshots alone can lose a changed password or a closed account.
`, opt.Addr, d.err)
	case d.appendonly != "yes":
		kept := fmt.Sprintf(`only in its snapshots (save %q):
  a crash of Redis or of its host loses every change made since the last snapshot`, d.save)
		if strings.TrimSpace(d.save) == "" {
			kept = `only in its memory (no snapshots either: save ""):
  a restart of Redis loses them all`
		}
		fmt.Fprintf(&b, `WARNING: the Redis at %s keeps no append-only file (appendonly no).
  Account changes the gateway acknowledges (a new password, a closed account) are kept
  %s.
  To fix it without a restart:
    %s CONFIG SET appendonly yes
    %s CONFIG SET appendfsync everysec
    %s CONFIG REWRITE      # writes both into redis.conf, for the next start
  or set "appendonly yes" and "appendfsync everysec" in redis.conf (Debian: /etc/redis/redis.conf)
  and restart redis-server.
`, opt.Addr, kept, cli, cli, cli)
	default: // appendfsync no
		fmt.Fprintf(&b, `WARNING: the Redis at %s leaves flushing its append-only file to the operating system
  (appendfsync %s): a crash of its host can lose about the last 30 seconds of acknowledged changes.
  To fix it without a restart:
    %s CONFIG SET appendfsync everysec
    %s CONFIG REWRITE
  or set "appendfsync everysec" in redis.conf and restart redis-server.
`, opt.Addr, d.appendfsync, cli, cli)
	}
	if require {
		fmt.Fprint(w, b.String())
		return fmt.Errorf("redis at %s: not known to keep every acknowledged change (see above); --require-durable: refusing to start", opt.Addr)
	}
	fmt.Fprintf(w, "%s  (restcomm-gateway up --require-durable refuses to start on such a Redis.)\n", b.String())
	return nil
}

// enableAOF turns on the append-only file of a Redis, for now and (CONFIG
// REWRITE) for its next start: for the redis-server that `up` just
// installed, whose Debian package starts it with snapshots only.
func enableAOF(w io.Writer, opt *redis.Options) error {
	c, ctx, done := quietClient(opt, 5*time.Second)
	defer done()
	if err := c.ConfigSet(ctx, "appendfsync", "everysec").Err(); err != nil {
		return err
	}
	if err := c.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		return err
	}
	if err := c.ConfigRewrite(ctx).Err(); err != nil {
		return fmt.Errorf("AOF is on until Redis restarts; CONFIG REWRITE failed, so set appendonly yes in redis.conf: %w", err)
	}
	fmt.Fprintf(w, "redis: turned on the append-only file of the redis-server just installed (appendonly yes, appendfsync everysec, saved in its redis.conf)\n")
	return nil
}

// redisCLI is the redis-cli command line that reaches opt's Redis, with a
// placeholder for its password.
func redisCLI(opt *redis.Options) string {
	host, port, err := net.SplitHostPort(opt.Addr)
	if err != nil {
		host, port = opt.Addr, "6379"
	}
	cmd := "redis-cli -h " + host + " -p " + port
	if opt.TLSConfig != nil {
		cmd += " --tls"
	}
	if opt.Username != "" {
		cmd += " --user " + opt.Username
	}
	if opt.Password != "" {
		cmd += " -a <password>"
	}
	return cmd
}
