package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/internal/accountsapi"
)

// Health and readiness for load balancers and orchestrators, answered
// without credentials: on the site, <health_path>/healthz and
// <health_path>/readyz, served by the handler before it looks at the path
// as RestComm would; on Caddy's admin API, /restcomm/healthz and
// /restcomm/readyz (HealthAdmin), for every restcomm handler of the
// running config.
//
// Live: the process answers, 200 {"status":"ok"}. Ready: Redis answers a
// PING within redis_timeout, the namespace is marked (store.Marked) and a
// policy is loaded, 200 {"status":"ok"}; otherwise 503
// {"status":"not ready","reasons":[…]}, each reason naming what failed
// (redis, namespace, policy) without an address or a credential. A probe
// costs one PING and one EXISTS at most, within the request's own
// deadline and redis_timeout; its answer is kept for healthCacheTTL, so
// that any number of probers costs Redis at most that per interval.

// DefaultHealthPath is where the site answers health probes unless
// health_path says otherwise: a path of its own, outside RestComm's
// /restcomm context, so that it can never hide a RestComm path.
const DefaultHealthPath = "/restcomm-gateway"

// healthOff as health_path turns the site's probes off (the admin API's
// stay).
const healthOff = "off"

// healthCacheTTL is how long a readiness answer is reused.
const healthCacheTTL = 250 * time.Millisecond

// healthPathSyntax: one or more segments of unreserved characters.
var healthPathSyntax = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)

// checkHealthPath refuses a health_path that is malformed or lies in
// RestComm's /restcomm context, in any case (the probes would hide, or be
// read as, RestComm's own paths).
func checkHealthPath(p string) error {
	if p == "" || p == healthOff {
		return nil
	}
	if !healthPathSyntax.MatchString(p) {
		return fmt.Errorf("health_path %q: want a path such as %s, without a trailing slash", p, DefaultHealthPath)
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("health_path %q: dot segments are not allowed", p)
		}
	}
	if l := strings.ToLower(p); l == "/restcomm" || strings.HasPrefix(l, "/restcomm/") {
		return fmt.Errorf("health_path %q: must not lie in RestComm's /restcomm context", p)
	}
	return nil
}

// readiness is a probe's answer, as JSON.
type readiness struct {
	Status  string   `json:"status"`
	Reasons []string `json:"reasons,omitempty"`
}

func (r readiness) ok() bool { return len(r.Reasons) == 0 }

var live = readiness{Status: "ok"}

// healthState is a handler's probe paths and its last readiness answer.
type healthState struct {
	live, ready string          // the site's probe paths; "" when off
	config      <-chan struct{} // the Done of the config's context: which config the handler is of
	mu          sync.Mutex
	at          time.Time // when last was probed
	last        readiness
}

// newHealthState is the probes of a handler of the config of ctx at
// path, the health_path option (checked by checkSettings): the default
// path when empty, none when off.
func newHealthState(ctx caddy.Context, path string) *healthState {
	h := &healthState{config: ctx.Done()}
	switch path {
	case healthOff:
	case "":
		path = DefaultHealthPath
		fallthrough
	default:
		h.live, h.ready = path+"/healthz", path+"/readyz"
	}
	return h
}

// serveHealth answers r when it is one of the site's probes.
func (g *Gateway) serveHealth(w http.ResponseWriter, r *http.Request) bool {
	h := g.health
	if h == nil || h.live == "" {
		return false
	}
	var answer func() readiness
	switch r.URL.Path {
	case h.live:
		answer = func() readiness { return live }
	case h.ready:
		answer = func() readiness { return g.readiness(r.Context()) }
	default:
		return false
	}
	writeProbe(w, r, answer)
	return true
}

// writeProbe answers a GET or HEAD probe with answer's JSON, 200 when
// ready and 503 when not; other methods get 405.
func writeProbe(w http.ResponseWriter, r *http.Request, answer func() readiness) {
	hdr := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	a := answer()
	body, _ := json.Marshal(a)
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	code := http.StatusOK
	if !a.ok() {
		code = http.StatusServiceUnavailable
		hdr.Set("Retry-After", "1")
	}
	w.WriteHeader(code)
	if r.Method == http.MethodGet {
		_, _ = w.Write(append(body, '\n'))
	}
}

// readiness is the handler's readiness, probed at most once per
// healthCacheTTL: concurrent probes wait for the one under way.
func (g *Gateway) readiness(ctx context.Context) readiness {
	h := g.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.at.IsZero() && time.Since(h.at) < healthCacheTTL {
		return h.last
	}
	h.last = g.probe(ctx)
	h.at = time.Now()
	return h.last
}

// probe checks the policy, then Redis (one PING) and the namespace (one
// EXISTS, once this gateway has seen it marked: NamespaceReady), within
// ctx and redis_timeout.
func (g *Gateway) probe(ctx context.Context) readiness {
	var reasons []string
	if reason := g.policyNotReady(); reason != "" { // policybundle.go
		reasons = append(reasons, reason)
	}
	g.redis.hold() // a reload closes the client only after the probe
	defer g.redis.release()
	ctx, cancel := context.WithTimeout(ctx, g.redisTimeout)
	defer cancel()
	err := g.store.Ping(ctx)
	if err != nil {
		cause := accountsapi.ErrorCause(err)
		if cause == "timeout" {
			reasons = append(reasons, "redis: no answer to PING within "+g.redisTimeout.String())
		} else {
			reasons = append(reasons, "redis: PING failed ("+cause+")")
		}
	} else if err = g.service.NamespaceReady(ctx); err != nil {
		reasons = append(reasons, accountsapi.ReadinessReason(err))
	}
	if err != nil {
		g.logs.Warn(g.logger, "not ready: "+accountsapi.ErrorCause(err), "not ready", zap.Error(err))
	}
	if reasons != nil {
		return readiness{Status: "not ready", Reasons: reasons}
	}
	return live
}

// gateways are the provisioned restcomm handlers, for the admin API's
// probes: each is listed from Provision to Cleanup. The probes ask those
// of the running config alone (caddy.ActiveContext), not those of a config
// being loaded or unloaded, nor those provisioned outside any config.
var gateways struct {
	sync.Mutex
	list []*Gateway
}

func listGateway(g *Gateway) {
	gateways.Lock()
	gateways.list = append(gateways.list, g)
	gateways.Unlock()
}

func unlistGateway(g *Gateway) {
	gateways.Lock()
	gateways.list = slices.DeleteFunc(gateways.list, func(x *Gateway) bool { return x == g })
	gateways.Unlock()
}

func init() {
	caddy.RegisterModule(HealthAdmin{})
}

// HealthAdmin is the admin API module admin.api.restcomm_health: GET
// /restcomm/healthz (the process answers) and /restcomm/readyz (every
// restcomm handler of the running config is ready; not ready when there
// is none). Like every admin.api module it is loaded with the admin API,
// without configuration.
type HealthAdmin struct{}

// CaddyModule returns the Caddy module information.
func (HealthAdmin) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.restcomm_health",
		New: func() caddy.Module { return new(HealthAdmin) },
	}
}

// Routes returns the admin API's probe routes.
func (HealthAdmin) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/restcomm/healthz", Handler: caddy.AdminHandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			writeProbe(w, r, func() readiness { return live })
			return nil
		})},
		{Pattern: "/restcomm/readyz", Handler: caddy.AdminHandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			writeProbe(w, r, func() readiness { return allReady(r.Context()) })
			return nil
		})},
	}
}

// errNoGateway: the running config has no restcomm handler.
var errNoGateway = errors.New("no restcomm handler in the running config")

// activeGateways are the listed handlers of the running config: those
// the admin API's readiness and the ready metric ask.
func activeGateways() []*Gateway {
	var list []*Gateway
	if active := caddy.ActiveContext(); active.Context != nil {
		done := active.Done() // the http app's contexts are values over it: the same Done
		gateways.Lock()
		for _, g := range gateways.list {
			if g.health.config == done {
				list = append(list, g)
			}
		}
		gateways.Unlock()
	}
	return list
}

// allReady is the readiness of every listed handler: the reasons of
// those not ready, each once.
func allReady(ctx context.Context) readiness {
	list := activeGateways()
	if len(list) == 0 {
		return readiness{Status: "not ready", Reasons: []string{"config: " + errNoGateway.Error()}}
	}
	var reasons []string
	for _, g := range list {
		for _, r := range g.readiness(ctx).Reasons {
			if !slices.Contains(reasons, r) {
				reasons = append(reasons, r)
			}
		}
	}
	if reasons != nil {
		return readiness{Status: "not ready", Reasons: reasons}
	}
	return live
}

// Interface guards
var _ caddy.AdminRouter = HealthAdmin{}
