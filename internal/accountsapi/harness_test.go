package accountsapi

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/apitest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/policy"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/accountcache"
)

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// harness is a Service on a real redis-server of its own, as the gateway
// makes it, without Caddy: requests go straight to ServeHTTP.
type harness struct {
	t       testing.TB
	s       *Service
	store   *store.Store
	redis   *redistest.Server
	proxied []*http.Request // requests handed to the next handler by do
	// forwarded counts requests serve handed to the next handler; none of
	// the Accounts and Organizations routes may be.
	forwarded atomic.Int64
}

// setup is what a harness is made of: the service's Config, and the Redis
// its store connects to (the harness's own by default), with the
// service's RedisTimeout as the client's read and write timeouts, as the
// gateway makes it.
type setup struct {
	Config
	redisURLs []string
	noCache   bool // resolve every request in Redis (the gateway's account_cache off)
}

// withAccountCache puts an account cache in front of c.Store, as the
// gateway does by default: every behaviour test runs with it, and passes
// whether a request is answered from memory or from Redis.
func withAccountCache(t testing.TB, c *Config) *accountcache.Cache {
	cache := accountcache.New(c.Store, accountcache.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); cache.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	c.Resolver = cache // marks failing networks itself (MemoryResolver)
	afterWrite := c.AfterWrite
	c.AfterWrite = func() {
		cache.Clear()
		if afterWrite != nil {
			afterWrite()
		}
	}
	return cache
}

// builtinPolicy is the built-in policy, compiled (and its tests run) once
// for every harness that keeps it.
var builtinPolicy = sync.OnceValues(func() (*policy.Engine, error) {
	return policy.NewEngine(context.Background(), policy.Default(), policy.EngineOptions{Mode: policy.Replace})
})

// newHarness makes a Service on a fresh redis-server. With withFixture,
// the whole conformance fixture is loaded (ADMIN active).
func newHarness(t testing.TB, withFixture bool, configure ...func(*setup)) *harness {
	t.Helper()
	srv := redistest.Start(t)
	c := setup{
		Config:    Config{Logs: NewLogSampler(LogSampleWindow, LogSampleBurst)},
		redisURLs: []string{srv.URL()},
	}
	for _, f := range configure {
		f(&c)
	}
	if c.Store == nil {
		opts := store.ClientOptions{URLs: c.redisURLs, ReadTimeout: c.RedisTimeout, WriteTimeout: c.RedisTimeout}
		rdb, err := opts.NewClient()
		require.NoError(t, err)
		t.Cleanup(func() { _ = rdb.Close() })
		c.Store = store.New(rdb, "")
	}
	if c.Policy == nil {
		e, err := builtinPolicy()
		require.NoError(t, err)
		c.Policy = e.Policy
	}
	var cache *accountcache.Cache
	if c.Resolver == nil && !c.noCache {
		cache = withAccountCache(t, &c.Config)
	}
	s, err := New(c.Config)
	require.NoError(t, err)
	h := &harness{t: t, s: s, store: c.Store, redis: srv}
	if withFixture {
		fixture.Load(t, h.store)
		if cache != nil {
			// Mark the namespace as the first request would (it holds data:
			// adopted), so that heartbeats flow and the test's requests
			// meet a cache that trusts what it holds.
			_, err := h.store.Init(context.Background(), store.InitOptions{By: "gateway", Version: c.Version})
			require.NoError(t, err)
			require.Eventually(t, cache.Trusted, 10*time.Second, time.Millisecond)
		}
	}
	return h
}

// withPolicyDir makes the service decide with the policy of dir, in mode
// (overlay or replace), as policy_dir and policy_mode do.
func withPolicyDir(t testing.TB, dir, mode string) func(*setup) {
	return func(c *setup) {
		m, err := policy.ParseMode(mode)
		require.NoError(t, err)
		e, err := policy.OpenDir(context.Background(), dir, policy.EngineOptions{Mode: m})
		require.NoError(t, err)
		t.Cleanup(func() { _ = e.Close() })
		c.Policy = e.Policy
	}
}

// withRedisTimeout sets the service's redis_timeout.
func withRedisTimeout(d time.Duration) func(*setup) {
	return func(c *setup) { c.RedisTimeout = d }
}

// withRedis connects the service to these Redis URLs.
func withRedis(urls ...string) func(*setup) {
	return func(c *setup) { c.redisURLs = urls }
}

// call is one request to the service.
type call struct {
	method, path string
	as           string // fixture name (ADMIN, DEV, …) logging in with email:T
	user, secret string // explicit credentials instead of as
	auth         string // raw Authorization header instead of either
	header       http.Header
	form         string // form body, sent as x-www-form-urlencoded
	body         io.Reader
	remote       string // the client's host:port, 192.0.2.1:1234 by default
}

// request builds the request c describes, as apitest.Call does.
func (c call) request() *http.Request {
	return apitest.Call{
		Method: c.method, Path: c.path, As: c.as, User: c.user, Secret: c.secret, Auth: c.auth,
		Header: c.header, Form: c.form, Body: c.body, Remote: c.remote,
	}.Request()
}

func (h *harness) do(c call) *httptest.ResponseRecorder {
	h.t.Helper()
	w := httptest.NewRecorder()
	require.NoError(h.t, h.s.ServeHTTP(w, c.request(), apitest.Upstream{Proxied: &h.proxied}))
	return w
}

// newRequest builds a request as the harness does, for tests that need to
// shape it themselves (Content-Length, streaming bodies, concurrency).
var newRequest = apitest.NewRequest

// serve runs one request through the service; safe for concurrent use.
func (h *harness) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	next := UpstreamFunc(func(w http.ResponseWriter, _ *http.Request) error {
		h.forwarded.Add(1)
		w.WriteHeader(http.StatusTeapot)
		return nil
	})
	if err := h.s.ServeHTTP(w, r, next); err != nil {
		w.Code = 599 // never returned by the service; makes the failure visible
	}
	return w
}

func formRequest(method, path, user, secret, form string) *http.Request {
	r := newRequest(method, fixture.APIRoot+path, strings.NewReader(form))
	r.Header.Set("Content-Type", typeForm)
	r.Header.Set("Authorization", fixture.Basic(user, secret))
	return r
}

// copyPolicy writes the built-in policy into a new directory, as a
// security team that replaces it starts (policy_mode replace).
func copyPolicy(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, policy.WriteDefault(dir))
	return dir
}
