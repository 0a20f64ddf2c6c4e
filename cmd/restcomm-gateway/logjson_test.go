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

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/freeport"
)

// With Redis down, everything the gateway writes is JSON lines a log
// shipper can read: go-redis's own complaints (a refused dial) included,
// as warnings of the logger restcomm.redis, not plain text. The policy's
// lines, loaded and reloaded, come from one logger.
func TestLogIsJSONWithRedisDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway binary")
	}
	t.Parallel()
	bin := buildGateway(t)
	site, closed := freeport.Addr(t), freeport.Addr(t) // nothing listens on closed
	policyDir := filepath.Join(t.TempDir(), "policy")
	initOut, err := exec.Command(bin, "policy", "init", policyDir).CombinedOutput()
	require.NoError(t, err, "%s", initOut)
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
		policy_dir ` + policyDir + `
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
	team := filepath.Join(policyDir, "team.rego")
	rego, err := os.ReadFile(team)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(team, append(rego, "\n# edited\n"...), 0o600))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"msg":"policy reloaded"`) },
		20*time.Second, 50*time.Millisecond, "the edit is reloaded\n%s", &logs)
	stop()

	out := logs.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.NotEmpty(t, lines)
	redisLines := 0
	policyLoggers := map[string]map[any]bool{}
	for _, line := range lines {
		var entry map[string]any
		if !assert.NoError(t, json.Unmarshal([]byte(line), &entry), "not JSON: %q", line) {
			continue
		}
		if msg, _ := entry["msg"].(string); msg == "policy loaded" || msg == "policy reloaded" {
			if policyLoggers[msg] == nil {
				policyLoggers[msg] = map[any]bool{}
			}
			policyLoggers[msg][entry["logger"]] = true
		}
		if entry["logger"] == "restcomm.redis" {
			redisLines++
			assert.Equal(t, "warn", entry["level"], line)
			assert.NotContains(t, entry["msg"], "redis: ", "the plain-text prefix is dropped")
		}
	}
	assert.Positive(t, redisLines)
	want := map[any]bool{"http.handlers.restcomm.policy": true}
	assert.Equal(t, want, policyLoggers["policy loaded"])
	assert.Equal(t, want, policyLoggers["policy reloaded"])
	t.Logf("%d log lines, %d from go-redis", len(lines), redisLines)
}
