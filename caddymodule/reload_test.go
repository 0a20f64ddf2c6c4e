package caddymodule

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/freeport"
)

// A `caddy reload` that changes the restcomm handler's Redis settings
// fails no request: the old config's Redis client is closed only once its
// last request is done (closing it at once failed requests with "redis: client
// is closed" in 6 of 6 reloads).
func TestReloadsChangingRedisSettingsFailNoRequest(t *testing.T) {
	h := newHarness(t, true)
	caddyMu.Lock()
	t.Cleanup(caddyMu.Unlock)
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", dir)
	addr := freeport.Addr(t)
	load := func(timeout string) {
		t.Helper()
		cfg := liveConfig(dir, addr, nil,
			map[string]any{"handler": "restcomm", "redis": map[string]any{"urls": []string{h.redis.URL()}, "timeout": timeout}},
			map[string]any{"handler": "static_response", "status_code": 200})
		raw, err := json.Marshal(cfg)
		require.NoError(t, err)
		require.NoError(t, caddy.Load(raw, true))
	}
	load("1s")
	t.Cleanup(func() { _ = caddy.Stop() })

	// failed: answers other than 200, which the gateway gave (a closed
	// Redis client answered 503 before); dropped: connections Caddy closed
	// under a request while it switched servers, which no handler sees.
	var ok, failed, dropped atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, "http://"+addr+fixture.APIRoot+"/Accounts.json/"+fixture.SidDev, nil)
				req.Header.Set("Authorization", fixture.Basic(fixture.Users["ADMIN"], fixture.Token))
				res, err := client.Do(req)
				if err != nil {
					dropped.Add(1)
					t.Logf("connection lost: %v", err)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					failed.Add(1)
					t.Logf("status %d", res.StatusCode)
				}
			}
		})
	}
	// some requests answered between reloads
	answered := func() {
		n := ok.Load() + failed.Load() + 10
		require.Eventually(t, func() bool { return ok.Load()+failed.Load() >= n }, 30*time.Second, 10*time.Millisecond)
	}
	for i := range 8 {
		answered()
		if i%2 == 0 {
			load("900ms")
		} else {
			load("1s")
		}
	}
	answered()
	close(stop)
	wg.Wait()
	assert.Zero(t, failed.Load(), "failed requests across 8 reloads (%d answered)", ok.Load())
	assert.LessOrEqual(t, dropped.Load()*100, ok.Load(), "connections lost across reloads")
	assert.Greater(t, ok.Load(), int64(50))
}
