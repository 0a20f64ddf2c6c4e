package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/fixture"
	"github.com/restcomm/restcomm-gateway/internal/freeport"
)

// With Redis down, everything the gateway writes is JSON lines a log
// shipper can read: go-redis's own complaints (a refused dial) included,
// as warnings of the logger restcomm.redis, not plain text.
func TestLogIsJSONWithRedisDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway binary")
	}
	t.Parallel()
	bin := buildGateway(t)
	site, closed := freeport.Addr(t), freeport.Addr(t) // nothing listens on closed
	caddyfile := `{
	admin off
	auto_https off
	log {
		output stderr
		format json
	}
}

http://` + site + ` {
	restcomm {
		redis redis://` + closed + `/0
	}
	reverse_proxy 127.0.0.1:1
}
`
	dir := t.TempDir()
	cfg := filepath.Join(dir, "Caddyfile")
	require.NoError(t, os.WriteFile(cfg, []byte(caddyfile), 0o600))
	cmd := exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	t.Cleanup(stop)

	client := &http.Client{Timeout: 10 * time.Second}
	url := "http://" + site + fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin
	var res *http.Response
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", fixture.Basic(fixture.Users["ADMIN"], fixture.Token))
		r, err := client.Do(req)
		if err != nil {
			return false
		}
		_ = r.Body.Close()
		res = r
		return true
	}, 30*time.Second, 100*time.Millisecond, "the gateway answers\n%s", &logs)
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"logger":"restcomm.redis"`) },
		10*time.Second, 50*time.Millisecond, "go-redis's lines reach the log\n%s", &logs)
	stop()

	out := logs.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.NotEmpty(t, lines)
	redisLines := 0
	for _, line := range lines {
		var entry map[string]any
		if !assert.NoError(t, json.Unmarshal([]byte(line), &entry), "not JSON: %q", line) {
			continue
		}
		if entry["logger"] == "restcomm.redis" {
			redisLines++
			assert.Equal(t, "warn", entry["level"], line)
			assert.NotContains(t, entry["msg"], "redis: ", "the plain-text prefix is dropped")
		}
	}
	assert.Positive(t, redisLines)
	t.Logf("%d log lines, %d from go-redis", len(lines), redisLines)
}
