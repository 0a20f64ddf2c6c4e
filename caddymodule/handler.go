package caddymodule

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/caddymodule/javacompat"
	"github.com/restcomm/restcomm-gateway/caddymodule/restpath"
	"github.com/restcomm/restcomm-gateway/policy"
	"github.com/restcomm/restcomm-gateway/store"
)

// maxBodyLength is RestComm's BodyLengthFilter limit.
const maxBodyLength = 10_000_000

// Stages of the checks the gateway makes outside the policy (see
// policy/README.md): after the SecurityFilter (0) come the body length
// filter, then Jersey's method selection — path and method (404, 405),
// Content-Type (415), Accept (406) — then the endpoints (10 and up).
const (
	stageBodyLength  = 1
	stageContentType = 3 // routing (404, 405) is stage 2
	stageAccept      = 4 // the endpoints' own steps are 10 and up
)

// exchange is one request on its way through the handler: what was asked,
// who asks, and what the policy said.
type exchange struct {
	w            http.ResponseWriter
	r            *http.Request
	path         *restpath.Path
	op           operation
	caller       *store.Resolved // nil when not authenticated
	target       *store.Resolved // nil when the operation has none
	pathAccount  *store.Resolved // the {accountSid} of a proxied path, read as RestComm does
	decision     policy.Decision
	contentType  string               // negotiated response type (Accounts/Organizations)
	unacceptable *problem             // 406, reported after 405 and 415 as Jersey does
	req          requestFacts         // what the operation's facts read (operations.go)
	failed       *store.FailedLogins  // the counters a failed login is recorded in
	failures     *store.FailureCounts // what they held when the caller was read
	id           string               // the request's id (Caddy's {http.request.uuid})
	redisLeft    time.Duration        // what is left of the request's Redis time
}

// redis returns the context for x's next Redis work, bounded by what is
// left of the request's Redis time (redis_timeout, however many commands
// and retries the request needs; time spent reading the body does not
// count), and a func that charges the time taken. When nothing is left,
// the context has expired and the store answers at once.
func (x *exchange) redis() (context.Context, func()) {
	start := time.Now()
	ctx, cancel := context.WithDeadline(x.r.Context(), start.Add(x.redisLeft))
	return ctx, func() {
		cancel()
		x.redisLeft = max(0, x.redisLeft-time.Since(start))
	}
}

// maxDecisions bounds how often one request is decided again when the
// facts its write was decided on changed before the write (store.ErrStale).
const maxDecisions = 3

// again prepares x to be decided anew on the current state: everything
// read from the store goes; what was read from the request stays.
func (x *exchange) again() {
	*x = exchange{w: x.w, r: x.r, path: x.path, op: x.op, id: x.id, redisLeft: x.redisLeft,
		req: requestFacts{body: x.req.body, form: x.req.form}}
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	p, err := restpath.ParseRequest(r.URL.EscapedPath(), r.URL.RawQuery)
	if errors.Is(err, restpath.ErrNotAPI) {
		sanitizeForUpstream(r) // proxy.go
		return next.ServeHTTP(w, r)
	}
	if err != nil {
		writePage(w, http.StatusBadRequest, "Ambiguous request path")
		return nil
	}
	g.redis.hold() // a reload closes the client only after this request
	defer g.redis.release()
	x := &exchange{w: w, r: r, path: p, op: operationOf(p, r.Method), id: decisionID(r), redisLeft: g.redisTimeout}
	for attempt := 1; ; attempt++ {
		err := g.serve(x, next)
		if !errors.Is(err, store.ErrStale) {
			return err
		}
		// The caller changed between the decision and the write, which
		// wrote nothing: decide again on the current state, which answers
		// what RestComm would answer now (401, 403 not active, ...).
		if attempt == maxDecisions {
			return g.unavailable(x, err)
		}
		x.again()
	}
}

// serve decides x and answers it. It returns store.ErrStale, having
// written nothing, when a write's guard no longer held.
func (g *Gateway) serve(x *exchange, next caddyhttp.Handler) error {
	w, r := x.w, x.r
	ctx, done := x.redis()
	err := g.resolve(ctx, x)
	done()
	if err != nil {
		return g.unavailable(x, err)
	}
	x.decision = g.decide(r.Context(), x)
	g.recordFailedLogin(x)

	// SecurityFilter: credentials and the status gate precede everything.
	if !x.decision.Allow && x.decision.Stage == 0 {
		x.deny().write(w, r, "")
		return nil
	}
	if r.ContentLength > maxBodyLength {
		writePage(w, http.StatusRequestEntityTooLarge, "Length larger than 10000000")
		return nil
	}
	if x.op.name == opProxy {
		if !x.decision.Allow { // a stricter edge policy; fail closed at any stage
			x.deny().write(w, r, "")
			return nil
		}
		if x.decision.Anonymous {
			x.caller = nil // passed on without the caller's identity
		}
		return g.proxy(x, next)
	}
	if x.decision.Anonymous {
		// Only pass-through can go without credentials: a policy that
		// exempts a served operation is refused, whatever it says.
		g.logger.Error("policy allowed a served operation anonymously; denying",
			zap.String("operation", x.op.name))
		x.w.Header().Set("WWW-Authenticate", `Basic realm="Restcomm realm"`)
		writePage(x.w, http.StatusUnauthorized, "")
		return nil
	}
	return g.serveAPI(x)
}

// resolve loads the caller (by its credentials), the target account of the
// operation and the failed-login counts of the caller's login, in one Redis
// round trip, and verifies the credentials.
func (g *Gateway) resolve(ctx context.Context, x *exchange) error {
	creds, hasCreds := parseBasic(x.r.Header.Get("Authorization"))
	var lookups []store.Lookup
	if hasCreds {
		lookups = append(lookups, store.Lookup{Mode: store.ByLogin, ID: creds.user})
	}
	// Without credentials the answer is 401 before any target matters, so
	// anonymous traffic costs no Redis work beyond the caller lookup.
	if x.op.target != "" && hasCreds {
		lookups = append(lookups, store.Lookup{Mode: x.op.target, ID: x.path.ID})
	}
	pathAccount := hasCreds && x.path.AccountSid != ""
	if pathAccount {
		lookups = append(lookups, store.Lookup{Mode: store.ByID, ID: x.path.AccountSid})
	}
	if len(lookups) == 0 {
		return nil // e.g. an anonymous Logout: no need for Redis at all
	}
	if err := g.seed.ensure(ctx, g.store, g.logger); err != nil {
		return err
	}
	if t := g.engine.Policy().Throttle(); hasCreds && t.Enabled() {
		x.failed = store.NewFailedLogins(creds.user, clientIP(x.r), t.Window, t.LoginIPMax, t.IPMax)
	}
	if g.cache != nil {
		g.cache.start()
	}
	res, counts, err := g.resolver.ResolveCounting(ctx, x.failed, lookups...)
	if err != nil {
		return err
	}
	if counts != nil {
		x.failures = counts
	}
	if hasCreds {
		token := dummyToken
		if res[0].Account != nil {
			token = res[0].Account.AuthToken
		} else if err := g.seed.verify(ctx, g.store); err != nil {
			return err // a login that matches nothing: has the store lost its data?
		}
		// the comparison runs for unknown users too: same work either way
		if secretMatches(creds.secret, token) && res[0].Account != nil {
			x.caller = &res[0]
		}
		res = res[1:]
	}
	if x.op.target != "" && hasCreds {
		x.target = &res[0]
		res = res[1:]
	}
	if pathAccount {
		x.pathAccount = &res[0]
	}
	return nil
}

// decide asks the policy. An error denies (fail closed) and is logged.
func (g *Gateway) decide(ctx context.Context, x *exchange) policy.Decision {
	in := policy.Input{
		Operation:      x.op.name,
		Method:         x.r.Method,
		Path:           x.path.Rel,
		ClientIP:       clientIP(x.r),
		PathAccountSid: x.path.AccountSid,
	}
	if x.caller != nil {
		in.Caller = subject(x.caller)
	}
	if x.target != nil && x.target.Account != nil {
		in.Target = subject(x.target)
	}
	if x.pathAccount != nil && x.pathAccount.Account != nil {
		in.PathAccount = subject(x.pathAccount)
	}
	if f := x.failures; f != nil {
		in.Throttle = &policy.Throttle{
			LoginIPFailures: f.LoginIP,
			IPFailures:      f.IP,
			RetryAfter:      int((f.RetryAfter + time.Second - 1) / time.Second),
		}
	}
	x.op.facts(g, x, &in)
	p := g.engine.Policy()
	start := time.Now()
	d, err := p.Decide(ctx, &in)
	took := time.Since(start)
	if err != nil {
		d = policy.Deny
		g.logger.Error("policy failed; denying",
			zap.String("operation", in.Operation), zap.String("revision", p.Revision()), zap.Error(err))
	}
	countDecision(d, err, took)
	if g.decisionLogger != nil {
		g.logDecision(x, &in, p, d, err, took)
	}
	return d
}

// recordFailedLogin counts a login that failed: credentials that matched no
// account, answered 401. A request refused for being throttled is not
// counted again, and nothing is recorded for a login that succeeded, so a
// successful request costs no Redis work for the throttle.
func (g *Gateway) recordFailedLogin(x *exchange) {
	if x.failed == nil || x.caller != nil || x.decision.Allow || x.decision.Status != http.StatusUnauthorized {
		return
	}
	ctx, done := x.redis()
	defer done()
	g.failedLoginFrom(x.failed.IP)
	if err := g.store.RecordFailedLogin(ctx, x.failed); err != nil {
		// The 401 stands; the failure just goes uncounted.
		g.logger.Warn("failed login not counted", zap.Error(err))
	}
}

func subject(r *store.Resolved) *policy.Subject {
	a := r.Account
	return &policy.Subject{
		Sid:             a.Sid,
		Role:            a.Role,
		Status:          a.Status,
		OrganizationSid: a.OrganizationSid,
		Ancestors:       r.Ancestors,
	}
}

// deny turns the policy's denial into a problem.
func (x *exchange) deny() *problem {
	d := x.decision
	return &problem{status: d.Status, message: d.Message, body: d.Body, stage: d.Stage, headers: d.Headers}
}

// denial is the policy's denial, or nil when it allowed.
func (x *exchange) denial() *problem {
	if x.decision.Allow {
		return nil
	}
	return x.deny()
}

// setPlaceholders publishes the caller for Caddy's access log
// ({http.auth.user.id}) and for later handlers.
func (g *Gateway) setPlaceholders(x *exchange) {
	if x.caller == nil {
		return
	}
	repl, ok := x.r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return
	}
	a := x.caller.Account
	repl.Set("http.auth.user.id", a.Sid)
	repl.Set("http.auth.user.role", a.Role)
	repl.Set("http.auth.user.organization_sid", a.OrganizationSid)
}

// writeFailed answers a write's failure that no case of its own took: a
// stale write goes back to ServeHTTP to be decided again (nothing was
// written); anything else is the store failing, 503.
func (g *Gateway) writeFailed(x *exchange, err error) error {
	if errors.Is(err, store.ErrStale) {
		return err
	}
	return g.unavailable(x, err)
}

// unavailable answers 503 when Redis fails (or lost its data), without
// leaking details, and logs it, sampled per cause (logsample.go).
func (g *Gateway) unavailable(x *exchange, err error) error {
	msg, body := storeFailure(err) // durability.go
	g.logs.error(g.logger, errorCause(err), msg, zap.String("path", x.r.URL.Path), zap.Error(err))
	x.w.Header().Set("Retry-After", "1")
	writePage(x.w, http.StatusServiceUnavailable, body)
	return nil
}

// clientIP is the client's address as Caddy determines it (honouring the
// server's trusted_proxies), or the peer's address outside a Caddy server.
func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// allowHeader is what Jersey lists in Allow for each of the templates the
// gateway serves (Java 8 HashMap order, spec §7).
func allowHeader(route restpath.Route) string {
	switch route {
	case restpath.AccountList:
		return "HEAD,POST,GET,OPTIONS"
	case restpath.Account:
		return "HEAD,POST,GET,OPTIONS,PUT"
	case restpath.Migrate:
		return "POST,OPTIONS"
	case restpath.OrganizationList:
		return "HEAD,GET,OPTIONS"
	case restpath.Organization:
		return "HEAD,GET,OPTIONS,PUT"
	}
	return ""
}

// serveAPI serves the Accounts and Organizations routes after the gate.
func (g *Gateway) serveAPI(x *exchange) error {
	if x.caller == nil {
		// RestComm serves no Accounts or Organizations route anonymously;
		// should a policy allow it, fail closed rather than serve without a
		// caller.
		x.w.Header().Set("WWW-Authenticate", `Basic realm="Restcomm realm"`)
		writePage(x.w, http.StatusUnauthorized, "")
		return nil
	}
	allow := allowFor(x.path)
	switch {
	case allow == "":
		writePage(x.w, http.StatusNotFound, "")
		return nil
	case x.r.Method == http.MethodOptions:
		x.w.Header().Set("Allow", allow)
		writeBody(x.w, http.StatusOK, "", nil)
		return nil
	case x.op.serve == nil:
		x.w.Header().Set("Allow", allow)
		writePage(x.w, http.StatusMethodNotAllowed, "")
		return nil
	}
	// AcceptFilter and Jersey's negotiation: a 406 still comes after a 415
	// for a body that is not a form, so the endpoint reports it in order.
	if ct, ok := javacompat.Negotiate(x.r.Header.Get("Accept"), x.path.JSON); ok {
		x.contentType = ct
	} else {
		x.unacceptable = pageProblem(http.StatusNotAcceptable, "", stageAccept)
	}
	g.setPlaceholders(x)
	return x.op.serve(g, x)
}

// respondOK writes a 200 with a representation.
func (x *exchange) respondOK(body []byte) error {
	writeBody(x.w, http.StatusOK, x.contentType, body)
	return nil
}

func (x *exchange) json() bool { return x.contentType == javacompat.TypeJSON }

// baseURI is Jersey's base URI of the request, for the Link header.
func baseURI(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + restpath.Prefix
}

// guard is what a write is conditional on: the caller as the policy saw it.
func (x *exchange) guard() *store.Guard { return store.GuardOf(x.caller.Account, x.id) }
