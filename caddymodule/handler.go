package caddymodule

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/restcomm/restcomm-gateway/internal/accountsapi"
	"github.com/restcomm/restcomm-gateway/store"
)

// ServeHTTP implements caddyhttp.MiddlewareHandler: the request goes to the
// service, and what it passes on goes to next (reverse_proxy to RestComm),
// whose shape, ServeHTTP(w, r) error, is the service's Upstream. The
// site's health probes are answered first, without credentials (health.go).
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if g.serveHealth(w, r) || g.refusePending(w, r) { // refusePending: policybundle.go
		return nil
	}
	return g.service.ServeHTTP(w, r, next)
}

// newService makes the service of this config from what Provision set up:
// the store and the policy engine, loggers and metrics, and the request's
// Caddy context read through hooks (client IP, request id, placeholders,
// the upstream's errors).
func (g *Gateway) newService(repl *caddy.Replacer) error {
	h := g.redis
	var resolver accountsapi.Resolver = g.store
	if g.cache != nil {
		resolver = g.cache // accountcache.go
	}
	s, err := accountsapi.New(accountsapi.Config{
		Store:              g.store,
		Resolver:           resolver,
		AfterWrite:         g.changedAccounts, // empties this gateway's cache at once
		Policy:             g.engine.Policy,
		Logger:             g.logger,
		DecisionLogger:     g.decisionLogger,
		Monitor:            g.monitorHook(), // policymonitor.go
		Logs:               g.logs,
		Metrics:            g.metrics,
		RedisTimeout:       g.redisTimeout,
		OrganizationDomain: repl.ReplaceAll(g.OrganizationDomain, ""),
		NoSeed:             g.Seed == seedOff,
		Collation:          g.collation,
		Version:            gatewayVersion(),
		ReadYourWrites:     g.Mirror.readYourWrites(), // mirror.go
		RestCommDB:         g.restcommDB,              // mirror.go
		ClientIP:           clientIP,
		RequestID:          requestID,
		Hold:               func() func() { h.hold(); return h.release }, // a reload closes the client only after the request
		PublishCaller:      publishCaller,
		UpstreamFailed:     g.upstreamFailed, // proxy.go
	})
	if err != nil {
		return err
	}
	g.service = s
	return nil
}

// clientIP is the client's address as Caddy determines it, honouring the
// server's trusted_proxies; "" outside a Caddy server (the service then
// takes the peer's).
func clientIP(r *http.Request) string {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	return ip
}

// requestID is Caddy's {http.request.uuid}, which the access log then
// carries too; "" outside a Caddy server (the service then makes one).
func requestID(r *http.Request) string {
	if r.Context().Value(caddyhttp.ExtraLogFieldsCtxKey) == nil {
		return ""
	}
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return ""
	}
	id, _ := repl.GetString("http.request.uuid")
	return id
}

// publishCaller makes the caller Caddy's {http.auth.user.id} (and .role,
// .organization_sid), for the access log and later handlers.
func publishCaller(r *http.Request, a *store.Account) {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return
	}
	repl.Set("http.auth.user.id", a.Sid)
	repl.Set("http.auth.user.role", a.Role)
	repl.Set("http.auth.user.organization_sid", a.OrganizationSid)
}
