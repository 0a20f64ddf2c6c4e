package caddymodule

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/store"
)

// defaultAdmin logs in as RestComm's seeded administrator.
var defaultAdmin = call{path: fixture.APIRoot + "/Accounts.json/" + store.DefaultAdminSid,
	user: store.DefaultAdminEmail, secret: "RestComm"}

func dbSize(t *testing.T, h *harness) int64 {
	n, err := h.redis.Client(t).DBSize(t.Context()).Result()
	require.NoError(t, err)
	return n
}

// A running gateway whose Redis comes back empty answers 503 "Account
// store lost its data" to everyone, logs it as an error, and never seeds
// it again; restored or explicitly seeded, it serves again at once.
func TestStoreThatLostItsDataIs503AndNeverReseeded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	logs := h.observe(zapcore.ErrorLevel)
	w := h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	marked, err := h.store.Marked(t.Context())
	require.NoError(t, err)
	require.True(t, marked, "the fixture is seeded as a gateway seeds")

	h.redis.Restart(t) // Redis lost everything
	for _, c := range []call{
		{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"},
		defaultAdmin,
		{path: fixture.APIRoot + "/Accounts/" + fixture.SidAdmin + "/Calls.json", as: "DEV"},
	} {
		w := h.do(c)
		assert.Equal(t, http.StatusServiceUnavailable, w.Code, c.path)
		assert.Contains(t, w.Body.String(), "Account store lost its data")
		assert.Empty(t, h.proxied)
	}
	assert.Zero(t, dbSize(t, h), "nothing seeded, nothing written")
	entries := logs.FilterMessageSnippet("account store lost its data").All()
	require.NotEmpty(t, entries)
	assert.Equal(t, zapcore.ErrorLevel, entries[0].Level)
	assert.Equal(t, "store lost its data", entries[0].ContextMap()["cause"])

	// Anonymous paths that need no Redis still pass.
	w = h.do(call{path: fixture.APIRoot + "/Logout"})
	assert.Equal(t, http.StatusTeapot, w.Code)

	// The operator starts over explicitly.
	var out bytes.Buffer
	require.NoError(t, accountsSeed(t.Context(), &out, store.ClientOptions{URLs: []string{h.redis.URL()}}, "", ""))
	assert.Contains(t, out.String(), "{restcomm}: seeded RestComm's default organization")
	w = h.do(defaultAdmin)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "DEV"})
	assert.Equal(t, http.StatusUnauthorized, w.Code, "an unknown login is a 401 again")
	m, err := h.store.Marker(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "accounts seed", m.By)
}

// Restored from a backup taken before namespaces were marked (data, no
// marker): served again, and marked.
func TestStoreRestoredWithoutMarkerIsServed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	w := h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"})
	require.Equal(t, http.StatusOK, w.Code)
	h.redis.Restart(t)
	fixture.Load(t, h.store) // the restored data, without a marker:
	require.NoError(t, h.redis.Client(t).Del(t.Context(), "{restcomm}:meta").Err())
	w = h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, user: "nobody@company.com", secret: "x"})
	assert.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
	w = h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"})
	assert.Equal(t, http.StatusOK, w.Code)
	m, err := h.store.Marker(t.Context())
	require.NoError(t, err)
	require.NotNil(t, m)
	assert.True(t, m.Adopted)
}

// A gateway's first request against a Redis that holds nothing: with seed
// auto (the default) it seeds and marks it; with seed off it answers 503
// "Account store is not initialized" and writes nothing, until `accounts
// seed` does.
func TestFirstRequestSeedsOnlyWithSeedAuto(t *testing.T) {
	t.Parallel()
	t.Run("auto", func(t *testing.T) {
		h := newHarness(t, false)
		w := h.do(defaultAdmin)
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
		m, err := h.store.Marker(t.Context())
		require.NoError(t, err)
		require.NotNil(t, m)
		assert.Equal(t, "seeded", m.State)
		assert.Equal(t, "gateway", m.By)
		assert.False(t, m.Adopted)
	})
	t.Run("off", func(t *testing.T) {
		h := newHarness(t, false, func(g *Gateway) { g.Seed = "off" })
		for range 2 {
			w := h.do(defaultAdmin)
			assert.Equal(t, http.StatusServiceUnavailable, w.Code)
			assert.Contains(t, w.Body.String(), "Account store is not initialized")
		}
		assert.Zero(t, dbSize(t, h))
		var out bytes.Buffer
		require.NoError(t, accountsSeed(t.Context(), &out, store.ClientOptions{URLs: []string{h.redis.URL()}}, "", "example.org"))
		w := h.do(defaultAdmin)
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
		org, err := h.store.Organization(t.Context(), store.DefaultOrganizationSid)
		require.NoError(t, err)
		assert.Equal(t, "example.org", org.DomainName)

		out.Reset()
		require.NoError(t, accountsSeed(t.Context(), &out, store.ClientOptions{URLs: []string{h.redis.URL()}}, "", ""))
		assert.Contains(t, out.String(), "already seeded")
	})
}

// `accounts seed` on a namespace of accounts from before markers only
// marks it.
func TestAccountsSeedAdopts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	require.NoError(t, h.redis.Client(t).Del(t.Context(), "{restcomm}:meta").Err())
	var out bytes.Buffer
	require.NoError(t, accountsSeed(t.Context(), &out, store.ClientOptions{URLs: []string{h.redis.URL()}}, "", ""))
	assert.Contains(t, out.String(), "marked it as seeded, created nothing")
	a, err := h.store.Account(t.Context(), fixture.SidAdmin)
	require.NoError(t, err)
	assert.Equal(t, store.StatusActive, a.Status, "the data is untouched")
}

func provisionErr(t *testing.T, g *Gateway) error {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	err := g.Provision(ctx)
	t.Cleanup(func() { _ = g.Cleanup() })
	return err
}

func TestWaitReplicasOption(t *testing.T) {
	t.Parallel()
	url := []string{"redis://127.0.0.1:1/0"} // never dialled: Provision does no I/O
	g := &Gateway{Redis: RedisConfig{URLs: url, WaitReplicas: 2}}
	require.NoError(t, provisionErr(t, g))
	n, timeout := g.store.Wait()
	assert.Equal(t, 2, n)
	assert.Equal(t, 500*time.Millisecond, timeout, "half of redis_timeout")

	g = &Gateway{Redis: RedisConfig{URLs: url, WaitReplicas: 1, WaitTimeout: caddy.Duration(50 * time.Millisecond),
		Timeout: caddy.Duration(200 * time.Millisecond)}}
	require.NoError(t, provisionErr(t, g))
	n, timeout = g.store.Wait()
	assert.Equal(t, 1, n)
	assert.Equal(t, 50*time.Millisecond, timeout)

	g = &Gateway{Redis: RedisConfig{URLs: url}}
	require.NoError(t, provisionErr(t, g))
	n, _ = g.store.Wait()
	assert.Zero(t, n, "no waiting by default")

	for _, bad := range []*Gateway{
		{Redis: RedisConfig{URLs: url, WaitReplicas: 1, WaitTimeout: caddy.Duration(time.Second)}},
		{Redis: RedisConfig{URLs: url, WaitReplicas: -1}},
		{Redis: RedisConfig{URLs: url}, Seed: "sometimes"},
	} {
		assert.Error(t, provisionErr(t, bad))
	}
}
