package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/localredis"
	"github.com/restcomm/restcomm-gateway/internal/testkit/freeport"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
)

// For a Redis it did not start, up says what is missing and how to fix it,
// and with --require-durable refuses it.
func TestUpChecksARedisItDidNotStart(t *testing.T) {
	for _, c := range []struct {
		name    string
		args    []string
		durable bool
		says    []string
	}{
		{"snapshots only, as Debian's package", []string{"--save", "3600 1 300 100 60 10000"}, false,
			[]string{"keeps no append-only file (appendonly no)", `save "3600 1 300 100 60 10000"`, "redis-cli -h 127.0.0.1 -p ",
				"CONFIG SET appendonly yes", "CONFIG SET appendfsync everysec", "CONFIG REWRITE", "redis.conf"}},
		{"no persistence at all", nil, false, []string{"appendonly no", `save ""`}},
		{"AOF left to the OS", []string{"--appendonly", "yes", "--appendfsync", "no"}, false,
			[]string{"appendfsync no", "CONFIG SET appendfsync everysec", "CONFIG REWRITE"}},
		{"CONFIG disabled, as on managed Redis", []string{"--rename-command", "CONFIG", ""}, false,
			[]string{"cannot tell whether", "CONFIG GET failed", "Managed Redis services often disable or rename CONFIG"}},
		{"AOF every second", []string{"--appendonly", "yes", "--appendfsync", "everysec"}, true,
			[]string{"keeps an append-only file (appendonly yes, appendfsync everysec)", "at most about the last second"}},
		{"AOF always", []string{"--appendonly", "yes", "--appendfsync", "always"}, true,
			[]string{"each change is on disk before it is acknowledged"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := redistest.Start(t, c.args...)
			opt, err := redis.ParseURL(srv.URL())
			require.NoError(t, err)
			var out strings.Builder
			require.NoError(t, checkDurability(&out, opt, false))
			for _, s := range c.says {
				assert.Contains(t, out.String(), s)
			}
			if !c.durable {
				assert.Contains(t, out.String(), "WARNING")
			}
			out.Reset()
			err = checkDurability(&out, opt, true)
			if c.durable {
				assert.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "--require-durable: refusing to start")
				assert.Contains(t, out.String(), c.says[0], "what is missing comes with the refusal")
			}
		})
	}
}

// enableAOF turns a snapshots-only Redis, started from a config file as
// Debian's package starts it, into a durable one, also for its next start
// (CONFIG REWRITE into that file).
func TestEnableAOF(t *testing.T) {
	dir := t.TempDir()
	port, err := freeport.Port()
	require.NoError(t, err)
	conf := filepath.Join(dir, "redis.conf")
	require.NoError(t, os.WriteFile(conf, []byte("bind 127.0.0.1\nport "+strconv.Itoa(port)+
		"\ndir "+dir+"\nappendonly no\nsave 3600 1\nlogfile \"\"\n"), 0o600))
	cmd := exec.Command("redis-server", conf)
	// its own process group: turning the append-only file on forks a
	// rewrite child that would go on writing into dir after its parent
	// is killed, and the temporary directory could not be removed
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	opt, err := redis.ParseURL("redis://127.0.0.1:" + strconv.Itoa(port) + "/0")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return ping(opt) == nil }, 10*time.Second, 50*time.Millisecond, "redis-server started")

	var out strings.Builder
	require.Error(t, checkDurability(&out, opt, true))
	require.NoError(t, enableAOF(&out, opt))
	require.NoError(t, checkDurability(&out, opt, true))
	assert.Contains(t, out.String(), "turned on the append-only file")
	written, err := os.ReadFile(conf)
	require.NoError(t, err)
	assert.Contains(t, string(written), "appendonly yes", "kept for the next start")
}

// upState points up's state directory at a temporary one, and returns
// the directory its redis-server keeps its data and password in, and a
// func that kills (SIGKILL) the redis-server started there, if any, which
// also runs when the test ends.
func upState(t *testing.T) (dir string, kill func()) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	dir = filepath.Join(state, "restcomm-gateway", "redis")
	kill = func() {
		raw, err := os.ReadFile(filepath.Join(dir, "redis.pid"))
		if err != nil {
			return
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
		if pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			for range 100 { // until it is gone
				if syscall.Kill(pid, 0) != nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	t.Cleanup(kill)
	return dir, kill
}

// When nothing answers at its own address, up starts its own redis-server:
// AOF every second, data in the documented state directory, and an
// acknowledged write survives a crash of that redis-server.
func TestUpStartsADurableRedis(t *testing.T) {
	dir, kill := upState(t)
	url := "redis://" + freeport.Addr(t) + "/0"

	var out strings.Builder
	r, err := ensureRedis(&out, url, true, false)
	require.NoError(t, err)
	assert.Equal(t, redisStarted, r.how)
	require.NoError(t, checkDurability(&out, r.opt, true))
	c := redis.NewClient(r.opt)
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	cfg, err := c.ConfigGet(ctx, "dir").Result()
	require.NoError(t, err)
	assert.Equal(t, dir, cfg["dir"])

	require.NoError(t, c.Set(ctx, "{restcomm}:k", "acknowledged", 0).Err())
	kill() // a crash of redis-server right after the reply (SIGKILL: no shutdown save)
	r, err = ensureRedis(&out, url, true, false)
	require.NoError(t, err)
	assert.Equal(t, redisStarted, r.how, "started again")
	c2 := redis.NewClient(r.opt)
	t.Cleanup(func() { _ = c2.Close() })
	got, err := c2.Get(ctx, "{restcomm}:k").Result()
	require.NoError(t, err)
	assert.Equal(t, "acknowledged", got)

	r, err = ensureRedis(&out, url, true, false)
	require.NoError(t, err)
	assert.Equal(t, redisRunning, r.how)
}

// The redis-server up starts has a password: made once from crypto/rand,
// kept in a file only the user can read, reused by later runs and
// restarts, never printed nor on the redis-server's command line, and the
// server listens on loopback only.
func TestUpStartsRedisWithAPassword(t *testing.T) {
	dir, kill := upState(t)
	addr := freeport.Addr(t)
	url := "redis://" + addr + "/0"
	var out strings.Builder
	r, err := ensureRedis(&out, url, true, false)
	require.NoError(t, err)
	require.Len(t, r.password, 64)
	assert.Equal(t, filepath.Join(dir, "password"), r.passwordFile)
	fi, err := os.Stat(r.passwordFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	kept, err := os.ReadFile(r.passwordFile)
	require.NoError(t, err)
	assert.Equal(t, r.password+"\n", string(kept))
	assert.Equal(t, r.password, r.opt.Password)

	ctx := context.Background()
	anon, err := redis.ParseURL(url)
	require.NoError(t, err)
	err = redis.NewClient(anon).Ping(ctx).Err()
	require.Error(t, err, "no password, no entry")
	assert.Contains(t, err.Error(), "NOAUTH")
	c := redis.NewClient(r.opt)
	t.Cleanup(func() { _ = c.Close() })
	bind, err := c.ConfigGet(ctx, "bind").Result()
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", bind["bind"])
	raw, err := os.ReadFile(filepath.Join(dir, "redis.pid"))
	require.NoError(t, err)
	cmdline, err := os.ReadFile("/proc/" + strings.TrimSpace(string(raw)) + "/cmdline")
	require.NoError(t, err)
	assert.NotContains(t, string(cmdline), r.password)
	assert.Contains(t, out.String(), "password in "+r.passwordFile)

	first := r.password
	kill()
	r, err = ensureRedis(&out, url, true, false)
	require.NoError(t, err)
	assert.Equal(t, redisStarted, r.how)
	assert.Equal(t, first, r.password, "the same password on a restart")
	r, err = ensureRedis(&out, url, true, false)
	require.NoError(t, err)
	assert.Equal(t, redisRunning, r.how)
	assert.Equal(t, first, r.password, "and for a Redis already running")
	assert.NotContains(t, out.String(), first, "never printed")
}

// A redis-server that an earlier up started without a password (in up's
// state directory) is refused, saying how to restart it with one; doing
// so keeps its data. A password-less Redis of the user's own is used,
// with a warning.
func TestUpAndPasswordlessRedis(t *testing.T) {
	dir, _ := upState(t)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	addr := freeport.Addr(t)
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	// as the earlier up started it
	old := exec.Command("redis-server", "--bind", host, "--port", port, "--daemonize", "yes",
		"--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec",
		"--logfile", filepath.Join(dir, "redis.log"), "--pidfile", filepath.Join(dir, "redis.pid"))
	out, err := old.CombinedOutput()
	require.NoError(t, err, "%s", out)
	url := "redis://" + addr + "/0"
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return ping(opt) == nil }, 10*time.Second, 50*time.Millisecond, "redis-server started")
	ctx := context.Background()
	c := redis.NewClient(opt)
	require.NoError(t, c.Set(ctx, "{restcomm}:k", "kept", 0).Err())
	_ = c.Close()

	var said strings.Builder
	_, err = ensureRedis(&said, url, true, false)
	require.ErrorContains(t, err, "refusing to run the gateway on the redis-server at "+addr+", which has no password")
	assert.Contains(t, said.String(), "was started by an earlier 'up' without a password")
	assert.Contains(t, said.String(), "redis-cli -h "+host+" -p "+port+" shutdown\n    restcomm-gateway up")

	_ = redis.NewClient(opt).Shutdown(ctx).Err() // the fix, as printed (its reply is the connection closing)
	require.Eventually(t, func() bool { return ping(opt) != nil }, 10*time.Second, 50*time.Millisecond, "redis-server shut down")
	r, err := ensureRedis(&said, url, true, false)
	require.NoError(t, err)
	assert.Equal(t, redisStarted, r.how)
	c = redis.NewClient(r.opt)
	t.Cleanup(func() { _ = c.Close() })
	got, err := c.Get(ctx, "{restcomm}:k").Result()
	require.NoError(t, err)
	assert.Equal(t, "kept", got)

	users := redistest.Start(t)
	said.Reset()
	r, err = ensureRedis(&said, users.URL(), true, false)
	require.NoError(t, err)
	assert.Equal(t, redisRunning, r.how)
	assert.Empty(t, r.password)
	assert.Contains(t, said.String(), "WARNING: the Redis at "+users.Addr+" has no password.")
}

// A Redis URL the user gave is never replaced by a Redis of up's: one
// that does not answer is an error naming it, its password hidden, and
// nothing is started; one that answers is used as it is.
func TestUpNeverStartsARedisForAGivenURL(t *testing.T) {
	dir, _ := upState(t)
	addr := freeport.Addr(t)
	var said strings.Builder
	_, err := ensureRedis(&said, "redis://user:s3cret@"+addr+"/0", false, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nothing answers at redis://user:xxxxx@"+addr+"/0 (RESTCOMM_REDIS)")
	assert.NotContains(t, err.Error()+said.String(), "s3cret")
	_, err = os.Stat(filepath.Join(dir, "redis.pid"))
	assert.True(t, os.IsNotExist(err), "no redis-server started")
	_, err = os.Stat(filepath.Join(dir, "password"))
	assert.True(t, os.IsNotExist(err))

	_, err = ensureRedis(&said, "redis://user:p@ss:w/rd@"+addr+"/0", false, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "RESTCOMM_REDIS: store: Redis URL: redis://user:xxxxx@"+addr+"/0 does not parse")
	assert.NotContains(t, err.Error(), "ss:w")

	srv := redistest.Start(t, "--requirepass", "r1ght")
	_, err = ensureRedis(&said, "redis://:wr0ng@"+srv.Addr+"/0", false, false)
	require.ErrorContains(t, err, "redis://:xxxxx@"+srv.Addr+"/0 (RESTCOMM_REDIS) answers: WRONGPASS")
	t.Setenv(envRedisPassword, "r1ght")
	r, err := ensureRedis(&said, "redis://"+srv.Addr+"/0", false, false)
	require.NoError(t, err)
	assert.Equal(t, redisRunning, r.how)
	assert.Empty(t, r.password, "the user's password is the user's to give")
}

func TestRedisTarget(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		url  string
		own  bool
		note string
	}{
		{nil, defaultRedisURL, true, "unset: the default, up's own"},
		{map[string]string{"RESTCOMM_REDIS": defaultRedisURL}, defaultRedisURL, true, "the default, spelled out"},
		{map[string]string{"RESTCOMM_REDIS": "redis://127.0.0.1:6380/0"}, "redis://127.0.0.1:6380/0", false, "a typo'd port"},
		{map[string]string{"RESTCOMM_REDIS": "redis://localhost:6379/0"}, "redis://localhost:6379/0", false, "another spelling is the user's"},
		{map[string]string{envRedisPassword: "x"}, defaultRedisURL, false, "a password of the user's"},
	} {
		url, own := redisTarget(func(k string) string { return c.env[k] })
		assert.Equal(t, c.url, url, c.note)
		assert.Equal(t, c.own, own, c.note)
	}
}

// The password file: made 0600 with 64 hex digits of crypto/rand, reused;
// one that others can read, or a link, is refused.
func TestRedisPasswordFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "password")
	pw, err := makePassword(file)
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9a-f]{64}$`, pw)
	again, err := makePassword(file)
	require.NoError(t, err)
	assert.Equal(t, pw, again)
	other, err := makePassword(filepath.Join(dir, "other"))
	require.NoError(t, err)
	assert.NotEqual(t, pw, other)

	require.NoError(t, os.Chmod(file, 0o644))
	_, err = makePassword(file)
	assert.ErrorContains(t, err, "is readable by other users (mode 0644): chmod 600")
	require.NoError(t, os.Chmod(file, 0o600))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(file, link))
	_, err = localredis.ReadPassword(link)
	assert.ErrorContains(t, err, "is not a regular file")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600))
	_, err = localredis.ReadPassword(filepath.Join(dir, "empty"))
	assert.ErrorContains(t, err, "does not hold one password")
}

func TestBindFor(t *testing.T) {
	for _, c := range []struct {
		site, bind string
		v6         bool
	}{
		{"https://localhost:8443", "127.0.0.1 [::1]", true},
		{"https://localhost:8443", "127.0.0.1", false},
		{"localhost", "127.0.0.1 [::1]", true},
		{"https://gw.localhost", "127.0.0.1 [::1]", true},
		{"https://127.0.0.1:8443", "127.0.0.1 [::1]", true},
		{"https://[::1]:8443", "127.0.0.1 [::1]", true},
		{"https://192.0.2.10:8443", "192.0.2.10", true},
		{"https://[2001:db8::1]:8443", "[2001:db8::1]", true},
		{"https://192.0.2.10:8443, https://localhost:8443", "192.0.2.10 127.0.0.1 [::1]", true},
		{"https://gw.example.com", "0.0.0.0 [::]", true},
		{"https://gw.example.com", "0.0.0.0", false},
		{"https://localhost:8443, gw.example.com:8443", "0.0.0.0 [::]", true},
		{"https://*.example.com", "0.0.0.0 [::]", true},
		{":8443", "0.0.0.0 [::]", true},
		{"https://0.0.0.0:8443", "0.0.0.0 [::]", true},
		{"", "127.0.0.1 [::1]", true},
	} {
		got, why := bindFor(c.site, c.v6, c.v6)
		assert.Equal(t, c.bind, got, "%q", c.site)
		assert.Contains(t, why, envBind)
	}
	assert.Equal(t, "https://localhost:8443", siteURL(""))
	assert.Equal(t, "https://gw.example.com", siteURL("gw.example.com, other.example.com"))
	assert.Equal(t, "https://localhost:9443", siteURL("https://localhost:9443/"))
}

// The top-level Caddyfile listens where up's RESTCOMM_BIND says: loopback
// only by default, every interface for a public name, an IP address
// itself; and never holds the Redis password in its adapted JSON (the
// admin API's /config, autosave.json).
func TestUpBindsTheTopLevelCaddyfile(t *testing.T) {
	body, err := os.ReadFile("../../Caddyfile")
	require.NoError(t, err)
	adapt := func() map[string]any {
		t.Helper()
		raw, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(body, map[string]any{"filename": "Caddyfile"})
		require.NoError(t, err)
		assert.NotContains(t, string(raw), "s3cret")
		var cfg map[string]any
		require.NoError(t, json.Unmarshal(raw, &cfg))
		return cfg
	}
	listen := func(cfg map[string]any) any {
		return cfg["apps"].(map[string]any)["http"].(map[string]any)["servers"].(map[string]any)["srv0"].(map[string]any)["listen"]
	}
	for _, k := range []string{"RESTCOMM_SITE", envBind, "RESTCOMM_REDIS", envRedisPassword} {
		t.Setenv(k, "")
		require.NoError(t, os.Unsetenv(k))
	}
	t.Setenv(envRedisPassword, "s3cret")
	cfg := adapt()
	assert.Equal(t, []any{"127.0.0.1:8443", "[::1]:8443"}, listen(cfg))
	raw, _ := json.Marshal(cfg)
	assert.Contains(t, string(raw), `"password":"{env.RESTCOMM_REDIS_PASSWORD}"`)

	t.Setenv("RESTCOMM_SITE", "https://gw.example.com")
	bind, _ := bindFor("https://gw.example.com", true, true)
	t.Setenv(envBind, bind)
	assert.Equal(t, []any{"0.0.0.0:443", "[::]:443"}, listen(adapt()))
	t.Setenv("RESTCOMM_SITE", "https://192.0.2.10:8443")
	bind, _ = bindFor("https://192.0.2.10:8443", true, true)
	t.Setenv(envBind, bind)
	assert.Equal(t, []any{"192.0.2.10:8443"}, listen(adapt()))
}

// up tells, loudly, that the default administrator has the shipped
// password: once a gateway seeds an empty namespace, or at once when it
// was seeded before; not when its password was changed.
func TestWatchSeeding(t *testing.T) {
	ctx := context.Background()
	rd := redistest.Start(t)
	rdb := rd.Client(t)
	watch := func(st *store.Store) (*lockedBuffer, chan struct{}) {
		var out lockedBuffer
		done := make(chan struct{})
		go func() { defer close(done); watchSeeding(ctx, &out, st, "https://localhost:8443", 10*time.Millisecond) }()
		return &out, done
	}
	wait := func(done chan struct{}) {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("watchSeeding did not stop")
		}
	}

	st := store.New(rdb, "fresh")
	out, done := watch(st)
	// that nothing is said can only be seen by giving the watcher a moment
	time.Sleep(50 * time.Millisecond)
	assert.Empty(t, out.String(), "nothing seeded yet")
	_, err := st.Init(ctx, store.InitOptions{Seed: true, By: "gateway"})
	require.NoError(t, err)
	wait(done)
	assert.Contains(t, out.String(), "## WARNING: The namespace was just seeded (by gateway) with RestComm's default administrator,")
	assert.Contains(t, out.String(), "logs in with the password RestComm")
	assert.Contains(t, out.String(), "https://localhost:8443/restcomm/2012-04-24/Accounts.json/"+store.DefaultAdminSid)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, l := range lines {
		assert.Len(t, l, len(lines[0]), "framed: %q", l)
	}

	out, done = watch(st)
	wait(done)
	assert.Contains(t, out.String(), "still has the password every RestComm ships")

	changed := store.New(rdb, "changed")
	_, err = changed.Init(ctx, store.InitOptions{Seed: true, By: "gateway"})
	require.NoError(t, err)
	require.NoError(t, rdb.HSet(ctx, "{changed}:acct:"+store.DefaultAdminSid, "token", "0123456789abcdef0123456789abcdef").Err())
	a, err := changed.Account(ctx, store.DefaultAdminSid)
	require.NoError(t, err)
	require.NotEqual(t, store.DefaultAdminAuthToken, a.AuthToken, "the test changed the token where the store keeps it")
	out, done = watch(changed)
	wait(done)
	assert.Empty(t, out.String())
}
