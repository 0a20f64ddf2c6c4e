package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/freeport"
	"github.com/restcomm/restcomm-gateway/store/redistest"
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
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	opt, err := redis.ParseURL("redis://127.0.0.1:" + strconv.Itoa(port) + "/0")
	require.NoError(t, err)
	for deadline := time.Now().Add(10 * time.Second); ping(opt) != nil; time.Sleep(50 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "redis-server did not start")
	}

	var out strings.Builder
	require.Error(t, checkDurability(&out, opt, true))
	require.NoError(t, enableAOF(&out, opt))
	require.NoError(t, checkDurability(&out, opt, true))
	assert.Contains(t, out.String(), "turned on the append-only file")
	written, err := os.ReadFile(conf)
	require.NoError(t, err)
	assert.Contains(t, string(written), "appendonly yes", "kept for the next start")
}

// When nothing answers, up starts its own redis-server: AOF every second,
// data in the documented state directory, and an acknowledged write
// survives a crash of that redis-server.
func TestUpStartsADurableRedis(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	url := "redis://" + freeport.Addr(t) + "/0"
	dir := filepath.Join(state, "restcomm-gateway", "redis")
	kill := func() {
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

	opt, how, err := ensureRedis(url, false)
	require.NoError(t, err)
	assert.Equal(t, redisStarted, how)
	var out strings.Builder
	require.NoError(t, checkDurability(&out, opt, true))
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	cfg, err := c.ConfigGet(ctx, "dir").Result()
	require.NoError(t, err)
	assert.Equal(t, dir, cfg["dir"])

	require.NoError(t, c.Set(ctx, "{restcomm}:k", "acknowledged", 0).Err())
	kill() // a crash of redis-server right after the reply (SIGKILL: no shutdown save)
	opt, how, err = ensureRedis(url, false)
	require.NoError(t, err)
	assert.Equal(t, redisStarted, how, "started again")
	c2 := redis.NewClient(opt)
	t.Cleanup(func() { _ = c2.Close() })
	got, err := c2.Get(ctx, "{restcomm}:k").Result()
	require.NoError(t, err)
	assert.Equal(t, "acknowledged", got)

	_, how, err = ensureRedis(url, false)
	require.NoError(t, err)
	assert.Equal(t, redisRunning, how)
}
