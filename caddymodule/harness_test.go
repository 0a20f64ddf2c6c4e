package caddymodule

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/restcomm/restcomm-gateway/internal/testkit/apitest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
)

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

type harness struct {
	t       testing.TB
	g       *Gateway
	ctx     caddy.Context // the config's: its metrics registry
	store   *store.Store
	redis   *redistest.Server
	proxied []*http.Request // requests handed to the next handler by do
}

// newHarness provisions the handler against a fresh redis-server. With
// withFixture, the whole conformance fixture is loaded (ADMIN active).
func newHarness(t testing.TB, withFixture bool, configure ...func(*Gateway)) *harness {
	t.Helper()
	srv := redistest.Start(t)
	g := &Gateway{Redis: RedisConfig{URLs: []string{srv.URL()}}}
	for _, c := range configure {
		c(g)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	require.NoError(t, g.Provision(ctx))
	require.NoError(t, g.Validate())
	t.Cleanup(func() { _ = g.Cleanup() })
	h := &harness{t: t, g: g, ctx: ctx, store: g.store, redis: srv}
	if withFixture {
		fixture.Load(t, h.store)
	}
	return h
}

// observe sends the handler's logs at level and above to an observer: the
// service is made again with that logger, as Provision made it.
func (h *harness) observe(level zapcore.Level) *observer.ObservedLogs {
	h.t.Helper()
	core, logs := observer.New(level)
	h.g.logger = zap.New(core)
	require.NoError(h.t, h.g.newService(caddy.NewReplacer()))
	return logs
}

// call is one request to the handler.
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
	r := c.request()
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
	w := httptest.NewRecorder()
	require.NoError(h.t, h.g.ServeHTTP(w, r, apitest.Upstream{Proxied: &h.proxied}))
	return w
}

type handlerFunc func(http.ResponseWriter, *http.Request) error

func (f handlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) error { return f(w, r) }

const wwwAuth = `Basic realm="Restcomm realm"`

func post(path, as, form string) call {
	return call{method: http.MethodPost, path: fixture.APIRoot + path, as: as, form: form}
}

func put(path, as, form string) call {
	return call{method: http.MethodPut, path: fixture.APIRoot + path, as: as, form: form}
}

func get(path, as string) call { return call{path: fixture.APIRoot + path, as: as} }
