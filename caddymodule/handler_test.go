package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
)

// The service gets the request's Caddy context through the adapter's
// hooks: Caddy's client IP (trusted_proxies honoured) is the policy's, not
// the peer's address; Caddy's request id is the decision id; and the
// caller becomes {http.auth.user.*} for the access log.
func TestCaddyRequestContextReachesTheService(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, func(g *Gateway) { g.PolicyDir = "../policy/examples/networks" })
	core, logs := observer.New(zapcore.InfoLevel)
	h.g.decisionLogger = zap.New(core)
	require.NoError(t, h.g.newService(caddy.NewReplacer()))
	serve := func(clientIP string) (*httptest.ResponseRecorder, *caddy.Replacer) {
		r := httptest.NewRequest(http.MethodGet, "https://gw.example.com"+fixture.APIRoot+"/Organizations.json", nil)
		r.RemoteAddr = "10.1.2.3:40000" // a network the policy allows: a trusted proxy
		r.Header.Set("Authorization", fixture.Basic(fixture.Users["ADMIN"], fixture.Token))
		repl := caddy.NewReplacer()
		repl.Set("http.request.uuid", "request-of-"+clientIP)
		ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl)
		ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: clientIP})
		ctx = context.WithValue(ctx, caddyhttp.ExtraLogFieldsCtxKey, new(caddyhttp.ExtraLogFields))
		w := httptest.NewRecorder()
		require.NoError(t, h.g.ServeHTTP(w, r.WithContext(ctx), nil))
		return w, repl
	}

	w, _ := serve("203.0.113.7")
	assert.Equal(t, http.StatusForbidden, w.Code, "Caddy's client IP is the policy's")
	w, repl := serve("192.168.10.9")
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	for name, want := range map[string]string{
		"http.auth.user.id":               fixture.SidAdmin,
		"http.auth.user.role":             "Administrator",
		"http.auth.user.organization_sid": fixture.SidOrg0,
	} {
		got, _ := repl.GetString(name)
		assert.Equal(t, want, got, name)
	}
	var ids []any
	for _, e := range logs.FilterMessage("decision").All() {
		ids = append(ids, e.ContextMap()["decision_id"])
	}
	assert.Equal(t, []any{"request-of-203.0.113.7", "request-of-192.168.10.9"}, ids)
}
