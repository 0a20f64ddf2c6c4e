package caddymodule

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/freeport"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
)

// These tests probe a real Caddy running the restcomm handler, on its site
// and on its admin API, in front of a real redis-server.

// healthGateway is a running Caddy with the restcomm handler and its
// admin API, both on free loopback ports.
type healthGateway struct {
	site, admin string // base URLs
}

// startHealthGateway loads a config whose one route runs the restcomm
// handler configured by handler, then a static 418 for what it passes on.
func startHealthGateway(t *testing.T, handler map[string]any) *healthGateway {
	t.Helper()
	caddyMu.Lock()
	t.Cleanup(caddyMu.Unlock)
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", dir)
	handler["handler"] = "restcomm"
	var lastErr error
	for range 5 {
		addr, adminAddr := freeport.Addr(t), freeport.Addr(t)
		cfg := liveConfig(dir, addr, nil, handler, map[string]any{"handler": "static_response", "status_code": 418})
		cfg["admin"] = map[string]any{"listen": adminAddr, "config": map[string]any{"persist": false}}
		raw, err := json.Marshal(cfg)
		require.NoError(t, err)
		if lastErr = caddy.Load(raw, true); lastErr == nil {
			t.Cleanup(func() { _ = caddy.Stop() })
			return &healthGateway{site: "http://" + addr, admin: "http://" + adminAddr}
		}
	}
	t.Fatalf("caddy did not start: %v", lastErr)
	return nil
}

// probe is one answer of a probe endpoint.
type probe struct {
	code    int
	status  string
	reasons []string
	body    string
}

func getProbe(t *testing.T, method, url string) probe {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	p := probe{code: resp.StatusCode, body: string(raw)}
	if resp.Header.Get("Content-Type") == "application/json" && method == http.MethodGet {
		var v readiness
		require.NoError(t, json.Unmarshal(raw, &v), p.body)
		p.status, p.reasons = v.Status, v.Reasons
	}
	return p
}

// waitProbe polls url until it answers code, or fails after within.
func waitProbe(t *testing.T, url string, code int, within time.Duration) probe {
	t.Helper()
	var last atomic.Pointer[probe] // the condition runs on a goroutine of its own
	last.Store(&probe{})
	if !assert.Eventually(t, func() bool {
		p := getProbe(t, http.MethodGet, url)
		last.Store(&p)
		return p.code == code
	}, within, 20*time.Millisecond) {
		p := last.Load()
		t.Fatalf("%s: still %d after %v, want %d: %s", url, p.code, within, code, p.body)
	}
	return *last.Load()
}

func hasReason(reasons []string, prefix string) bool {
	for _, r := range reasons {
		if strings.HasPrefix(r, prefix) {
			return true
		}
	}
	return false
}

// Ready, then Redis stopped: not ready within a second, with a redis
// reason, on the site and the admin API alike, while live stays 200; then
// Redis back with its data: ready again, without a restart.
func TestHealthThroughCaddyFollowsRedis(t *testing.T) {
	// an append-only file, synced on every write, brings the data back
	// when the server is started again
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	gw := startHealthGateway(t, map[string]any{
		"redis": map[string]any{"urls": []string{srv.URL()}, "timeout": "300ms"},
	})
	live, ready := gw.site+DefaultHealthPath+"/healthz", gw.site+DefaultHealthPath+"/readyz"
	adminLive, adminReady := gw.admin+"/restcomm/healthz", gw.admin+"/restcomm/readyz"

	for _, u := range []string{live, adminLive} {
		p := getProbe(t, http.MethodGet, u)
		assert.Equal(t, http.StatusOK, p.code, u)
		assert.Equal(t, "ok", p.status, u)
		assert.JSONEq(t, `{"status":"ok"}`, p.body, u)
	}
	// the first readiness probe seeds the empty namespace (seed auto), as
	// the first API request would
	for _, u := range []string{ready, adminReady} {
		p := waitProbe(t, u, http.StatusOK, 2*time.Second)
		assert.JSONEq(t, `{"status":"ok"}`, p.body, u)
	}
	marked, err := store.New(srv.Client(t), "").Marked(context.Background())
	require.NoError(t, err)
	assert.True(t, marked)
	assert.Equal(t, http.StatusOK, getProbe(t, http.MethodHead, ready).code)
	assert.Equal(t, http.StatusMethodNotAllowed, getProbe(t, http.MethodPost, ready).code)
	assert.Equal(t, http.StatusMethodNotAllowed, getProbe(t, http.MethodPost, adminReady).code)
	// no credentials asked, and nothing passed on
	assert.Equal(t, http.StatusTeapot, getProbe(t, http.MethodGet, gw.site+"/elsewhere").code)

	srv.Stop()
	stopped := time.Now()
	p := waitProbe(t, ready, http.StatusServiceUnavailable, time.Second)
	t.Logf("not ready %v after Redis stopped: %s", time.Since(stopped).Round(time.Millisecond), strings.TrimSpace(p.body))
	assert.Equal(t, "not ready", p.status)
	assert.True(t, hasReason(p.reasons, "redis:"), p.reasons)
	assert.NotContains(t, p.body, srv.Addr)
	p = waitProbe(t, adminReady, http.StatusServiceUnavailable, time.Second)
	assert.True(t, hasReason(p.reasons, "redis:"), p.reasons)
	assert.Equal(t, http.StatusOK, getProbe(t, http.MethodGet, live).code)
	assert.Equal(t, http.StatusOK, getProbe(t, http.MethodGet, adminLive).code)

	srv.Restart(t)
	waitProbe(t, ready, http.StatusOK, 5*time.Second)
	waitProbe(t, adminReady, http.StatusOK, time.Second)
}

// A namespace without its marker is not ready, with a namespace reason:
// one never seeded while seeding is off, then one that lost its data
// after the gateway had seen it marked. health_path moves the site's
// probes.
func TestHealthThroughCaddyWantsTheNamespaceMarker(t *testing.T) {
	srv := redistest.Start(t)
	gw := startHealthGateway(t, map[string]any{
		"redis":       map[string]any{"urls": []string{srv.URL()}},
		"seed":        "off",
		"health_path": "/gw",
	})
	ready, adminReady := gw.site+"/gw/readyz", gw.admin+"/restcomm/readyz"
	assert.Equal(t, http.StatusOK, getProbe(t, http.MethodGet, gw.site+"/gw/healthz").code)
	// the default path is RestComm's again: passed on
	assert.Equal(t, http.StatusTeapot, getProbe(t, http.MethodGet, gw.site+DefaultHealthPath+"/readyz").code)

	for _, u := range []string{ready, adminReady} {
		p := getProbe(t, http.MethodGet, u)
		require.Equal(t, http.StatusServiceUnavailable, p.code, u)
		assert.Equal(t, "not ready", p.status)
		assert.True(t, hasReason(p.reasons, "namespace: not initialized"), p.reasons)
	}

	// `restcomm-gateway accounts seed` does what the gateway may not
	st := store.New(srv.Client(t), "")
	_, err := st.Init(context.Background(), store.InitOptions{Seed: true, Domain: "default.restcomm.com", By: "test"})
	require.NoError(t, err)
	for _, u := range []string{ready, adminReady} {
		waitProbe(t, u, http.StatusOK, time.Second)
	}

	require.NoError(t, srv.Client(t).FlushAll(context.Background()).Err())
	for _, u := range []string{ready, adminReady} {
		p := waitProbe(t, u, http.StatusServiceUnavailable, time.Second)
		assert.True(t, hasReason(p.reasons, "namespace: marker missing"), p.reasons)
		assert.False(t, hasReason(p.reasons, "redis:"), p.reasons)
	}
}

// The admin API is not ready while the running config has no restcomm
// handler, whatever handlers exist outside it.
func TestAdminReadyWithoutGateway(t *testing.T) {
	newHarness(t, false) // a handler provisioned outside any config
	caddyMu.Lock()
	t.Cleanup(caddyMu.Unlock)
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", dir)
	adminAddr := freeport.Addr(t)
	cfg := liveConfig(dir, freeport.Addr(t), nil, map[string]any{"handler": "static_response", "status_code": 418})
	cfg["admin"] = map[string]any{"listen": adminAddr, "config": map[string]any{"persist": false}}
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, caddy.Load(raw, true))
	t.Cleanup(func() { _ = caddy.Stop() })
	p := getProbe(t, http.MethodGet, "http://"+adminAddr+"/restcomm/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, p.code)
	assert.True(t, hasReason(p.reasons, "config:"), p.reasons)
	assert.Equal(t, http.StatusOK, getProbe(t, http.MethodGet, "http://"+adminAddr+"/restcomm/healthz").code)
}

func TestCheckHealthPath(t *testing.T) {
	for _, ok := range []string{"", "off", "/restcomm-gateway", "/gw", "/a/b.c", "/restcommx", "/RestComm-Gateway"} {
		assert.NoError(t, checkHealthPath(ok), ok)
	}
	for _, bad := range []string{"/", "/restcomm", "/restcomm/health", "/RESTCOMM/x", "gw", "/gw/", "//gw", "/gw/.", "/g w", "/gw%2F", "/gw;x", "/gw?x"} {
		assert.Error(t, checkHealthPath(bad), bad)
	}
}
