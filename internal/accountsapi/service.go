// Package accountsapi is the RestComm API as the gateway serves it:
// authentication and authorization of every call, the Accounts and
// Organizations routes answered from Redis, and every other API path
// passed on to RestComm. It is a plain net/http service over package store
// and package policy, with no Caddy in it; package caddymodule adapts it to
// Caddy (the module, the Caddyfile, pools and metrics).
//
// A request goes through it in this order, a file each:
//
//	service.go       ServeHTTP: the steps below, in order, and again on a stale write
//	classify.go      what the request asks for: RestComm's reading of the path, the operation
//	authenticate.go  who asks: the Basic credentials, the caller and the target in one Redis round trip
//	decide.go        what the policy says, on the facts gathered for it
//	serve.go         then either the Accounts and Organizations routes (accounts.go, organizations.go)
//	proxy.go         or the pass-through of every other API path to RestComm
//
// What those steps share: problems.go (refusals in RestComm's order and
// shapes), form.go (forms and queries as Jersey reads them), limits.go,
// ids.go (RestComm's identifiers), liststream.go (lists sent as they are
// read), seed.go (seeding, and a Redis that lost its data) and logsample.go
// (repeated errors, sampled).
package accountsapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/internal/restpath"
	"github.com/restcomm/restcomm-gateway/policy"
	"github.com/restcomm/restcomm-gateway/store"
)

// DefaultRedisTimeout is Config.RedisTimeout when none is given.
const DefaultRedisTimeout = time.Second

// Config is what a Service is made of. Store and Policy are required;
// everything else has a default or may be left out.
type Config struct {
	// Store holds the accounts and organizations.
	Store *store.Store
	// Resolver loads a request's caller, target and failed-login counts
	// in one round trip; Store when nil. An in-process cache of resolved
	// accounts plugs in here (and learns of changes through AfterWrite).
	Resolver Resolver
	// Policy returns the policy in force (policy.Engine.Policy): each
	// request is decided on the policy it returns then.
	Policy func() *policy.Policy

	// Logger gets the service's failures; none when nil.
	Logger *zap.Logger
	// DecisionLogger, when set, gets one entry per policy decision in
	// OPA's decision log format (internal/decisionlog,
	// docs/decision-logs.md): the input the policy evaluated, the
	// decision it returned, the policy's revision and the evaluation's
	// time; never a credential. Each decision is then evaluated, never
	// answered from the policy's decision cache.
	DecisionLogger *zap.Logger
	// Monitor, when set, is told of every decision the gateway acts on,
	// with its input and the request's id (made only when asked for: most
	// decisions do not differ), once it is made: a policy in monitor mode
	// decides the same input and reports where it differs. It must not
	// change in, nor keep it once it returns.
	Monitor func(ctx context.Context, requestID func() string, in *policy.Input, d policy.Decision)
	// Logs samples repeated failures (the store or the upstream down);
	// nil logs every line.
	Logs *LogSampler
	// Metrics is told of every decision and of every read-your-writes
	// wait; nil counts nothing.
	Metrics Metrics

	// Now is the clock of what the service stores and shows: creation
	// and update dates. time.Now when nil.
	Now func() time.Time
	// RedisTimeout bounds the Redis work of each request, however many
	// commands and retries it takes; DefaultRedisTimeout when 0.
	RedisTimeout time.Duration

	// OrganizationDomain is the domain of RestComm's default organization
	// when the service seeds an empty namespace ("default.restcomm.com"
	// when empty).
	OrganizationDomain string
	// NoSeed: a namespace that holds nothing and was never marked is not
	// seeded (the Caddyfile's seed off); requests get 503 until
	// `restcomm-gateway accounts seed` seeds it.
	NoSeed bool
	// Collation, when set, is the comparison rule the operator imposes on
	// the namespace (re-keyed under it before the first request is
	// served); nil: the namespace's own (store.Store.OpenKeys).
	Collation *collation.Rule
	// Version is the gateway's version, recorded in the namespace marker
	// when the service seeds or marks the namespace.
	Version string

	// ReadYourWrites is how long a request passed upstream, by or for an
	// account whose change RestComm's database does not have yet (the
	// mirror), waits for it; 0 does not wait.
	ReadYourWrites time.Duration
	// RestCommDB is RestComm's database when the mirror writes into it:
	// values its columns cannot hold are refused (400) and a create of an
	// account it already holds is a 409, before anything is stored. Nil
	// without a mirror.
	RestCommDB RestCommDB
	// DatabaseTimeout bounds each question to RestCommDB;
	// DefaultDatabaseTimeout when 0.
	DatabaseTimeout time.Duration

	// ClientIP is the client's address as the server determines it
	// (trusted proxies honoured). When nil, or when it returns "", the
	// peer's address is used.
	ClientIP func(*http.Request) string
	// RequestID is the request's id, written in decision logs and with
	// every change (to tell a lost reply from a change never made); a new
	// random UUID when nil.
	RequestID func(*http.Request) string
	// Hold, when set, is called as an API request begins, and the func it
	// returns once the request is done: Store's client must stay open in
	// between.
	Hold func() (release func())
	// PublishCaller, when set, is told the authenticated caller of a
	// request that is served or passed on, before it is, so that the
	// server can log it (Caddy's {http.auth.user.id}).
	PublishCaller func(r *http.Request, caller *store.Account)
	// UpstreamFailed, when set, answers an API request whose upstream
	// failed before any response began (err is what the upstream
	// returned) and returns what ServeHTTP returns then. When nil, err is
	// returned. A body cut at the size limit is answered 413 first.
	UpstreamFailed func(w http.ResponseWriter, r *http.Request, err error) error

	// AfterWrite, when set, is called after every account or organization
	// change the service made, and after every one whose outcome is
	// unknown (the store failed during it): whatever caches resolved
	// accounts must forget them.
	AfterWrite func()
	// AfterFailedLogin, when set, is called with the client network
	// (store.ClientNetwork) after a failed login was counted (or counting
	// it failed midway).
	AfterFailedLogin func(network string)
}

// Resolver loads what authenticate needs: the accounts of lookups with
// their ancestors, and the failed-login counts of fl (nil: none), in one
// round trip. *store.Store is one.
type Resolver interface {
	ResolveCounting(ctx context.Context, fl *store.FailedLogins, lookups ...store.Lookup) ([]store.Resolved, *store.FailureCounts, error)
}

// MemoryResolver is a Resolver that can answer from memory (the account
// cache): it is asked first, so that a request it answers sets up no Redis
// deadline at all. It answers no request from a client network marked
// failing; the service marks one before it counts a failure from it, and
// checks the mark again before a success answered from memory stands
// (authenticate.go).
type MemoryResolver interface {
	Resolver
	Cached(fl *store.FailedLogins, lookups ...store.Lookup) ([]store.Resolved, *store.FailureCounts, bool)
	// FailedLogin marks the client network failing.
	FailedLogin(network string)
	// Failing reports whether the client network is marked failing.
	Failing(network string) bool
}

// Metrics is told what the service decided and waited for.
type Metrics interface {
	// Decision: the policy's decision on a request, err when it gave no
	// valid one (and the request was denied), took its evaluation time.
	Decision(d policy.Decision, err error, took time.Duration)
	// ReadYourWrites: a proxied request waited for its account's pending
	// change, which was delivered in time or not.
	ReadYourWrites(delivered bool)
	// StoreUnavailable: a request was answered 503 because the account
	// store failed, for reason, one of UnavailableReasons.
	StoreUnavailable(reason string)
	// Throttled: a request was refused by the failed-login throttle, for
	// reason, one of ThrottleReasons.
	Throttled(reason string)
}

// Upstream is where the requests the service does not answer go: the next
// handler, reverse_proxy to RestComm. caddyhttp.Handler has this shape.
type Upstream interface {
	ServeHTTP(http.ResponseWriter, *http.Request) error
}

// UpstreamFunc is a func as an Upstream.
type UpstreamFunc func(http.ResponseWriter, *http.Request) error

// ServeHTTP calls f.
func (f UpstreamFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) error { return f(w, r) }

// Service serves the RestComm API; see the package doc.
type Service struct {
	cfg      Config
	store    *store.Store
	resolver Resolver
	logger   *zap.Logger
	now      func() time.Time
	seed     *seeder
}

// New makes a Service of cfg. It does no I/O: the namespace is seeded or
// checked on the first request that needs the store.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Policy == nil {
		return nil, errors.New("accountsapi: a store and a policy are required")
	}
	s := &Service{cfg: cfg, store: cfg.Store, resolver: cfg.Resolver, logger: cfg.Logger, now: cfg.Now,
		seed: &seeder{domain: cfg.OrganizationDomain, auto: !cfg.NoSeed, version: cfg.Version, collation: cfg.Collation}}
	if s.resolver == nil {
		s.resolver = cfg.Store
	}
	if s.logger == nil {
		s.logger = zap.NewNop()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cfg.RedisTimeout <= 0 {
		s.cfg.RedisTimeout = DefaultRedisTimeout
	}
	if s.cfg.DatabaseTimeout <= 0 {
		s.cfg.DatabaseTimeout = DefaultDatabaseTimeout
	}
	return s, nil
}

// exchange is one request on its way through the service: what was asked,
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
	req          requestFacts         // what the operation's facts read (decide.go)
	failed       *store.FailedLogins  // the counters a failed login is counted in
	failures     *store.FailureCounts // what they held when read (with the caller, or when found full)
	id           string               // the request's id (requestID), once asked for
	newID        func(*http.Request) string
	fromRedis    bool          // resolve in Redis, not from memory (again)
	redisLeft    time.Duration // what is left of the request's Redis time
}

// redis returns the context for x's next Redis work, bounded by what is
// left of the request's Redis time (Config.RedisTimeout, however many
// commands and retries the request needs; time spent reading the body
// does not count), and a func that charges the time taken. When nothing
// is left, the context has expired and the store answers at once.
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
// read from the store goes; what was read from the request stays. The
// current state is read from Redis: a memory that answered the stale
// facts could answer them again (a change made through another gateway
// reaches its cache a moment later), and every attempt would be stale.
func (x *exchange) again() {
	*x = exchange{w: x.w, r: x.r, path: x.path, op: x.op, id: x.id, newID: x.newID, redisLeft: x.redisLeft,
		req: requestFacts{body: x.req.body, form: x.req.form}, fromRedis: true}
}

// ServeHTTP answers r, or passes it to next: paths outside the API as they
// are, API paths other than Accounts and Organizations once the caller
// passed the gate. The error is next's, or one the service could not
// answer; the service answers its own failures itself.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request, next Upstream) error {
	x, err := s.classify(w, r) // classify.go
	switch {
	case errors.Is(err, restpath.ErrNotAPI): // none of the gateway's business
		sanitizeForUpstream(r) // proxy.go
		return next.ServeHTTP(w, r)
	case err != nil:
		WritePage(w, http.StatusBadRequest, refusalReason(err)) // classify.go
		return nil
	}
	if s.cfg.Hold != nil {
		defer s.cfg.Hold()()
	}
	for attempt := 1; ; attempt++ {
		err := s.serve(x, next)
		if !errors.Is(err, store.ErrStale) {
			return err
		}
		// The caller changed between the decision and the write, which
		// wrote nothing: decide again on the current state, which answers
		// what RestComm would answer now (401, 403 not active, ...).
		if attempt == maxDecisions {
			return s.unavailable(x, err)
		}
		x.again()
	}
}

// serve authenticates, decides and answers x. It returns store.ErrStale,
// having written nothing, when a write's guard no longer held.
func (s *Service) serve(x *exchange, next Upstream) error {
	w, r := x.w, x.r
	err := s.authenticate(x) // authenticate.go
	if err != nil {
		return s.unavailable(x, err)
	}
	x.decision = s.decide(r.Context(), x) // decide.go
	// A 401 for credentials is answered only once counted (authenticate.go).
	if err := s.countFailedLogin(x); err != nil {
		return s.unavailable(x, err)
	}
	s.countThrottled(x) // authenticate.go

	// SecurityFilter: credentials and the status gate precede everything.
	if !x.decision.Allow && x.decision.Stage == 0 {
		x.deny().write(w, r, "")
		return nil
	}
	if r.ContentLength > MaxBodyLength {
		WritePage(w, http.StatusRequestEntityTooLarge, msgBodyTooLarge)
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
		return s.proxy(x, next) // proxy.go
	}
	if x.decision.Anonymous {
		// Only pass-through can go without credentials: a policy that
		// exempts a served operation is refused, whatever it says.
		s.logger.Error("policy allowed a served operation anonymously; denying",
			zap.String("operation", x.op.name))
		x.w.Header().Set("WWW-Authenticate", `Basic realm="Restcomm realm"`)
		WritePage(x.w, http.StatusUnauthorized, "")
		return nil
	}
	return s.serveAPI(x) // serve.go
}

// publishCaller tells Config.PublishCaller who x's caller is.
func (s *Service) publishCaller(x *exchange) {
	if x.caller != nil && s.cfg.PublishCaller != nil {
		s.cfg.PublishCaller(x.r, x.caller.Account)
	}
}

// clientIP is the client's address: Config.ClientIP's, or the peer's.
func (s *Service) clientIP(r *http.Request) string {
	if s.cfg.ClientIP != nil {
		if ip := s.cfg.ClientIP(r); ip != "" {
			return ip
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// requestID is the request's id, made when first needed (a write's guard,
// a decision log line): Caddy makes its {http.request.uuid} from
// crypto/rand when asked, which most requests never need.
func (x *exchange) requestID() string {
	if x.id == "" {
		x.id = x.newID(x.r)
	}
	return x.id
}

// requestID is a request's id: Config.RequestID's, or a random UUID.
func (s *Service) requestID(r *http.Request) string {
	if s.cfg.RequestID != nil {
		if id := s.cfg.RequestID(r); id != "" {
			return id
		}
	}
	return uuid.NewString()
}

// unavailable answers 503 when Redis fails (or lost its data), without
// leaking details, and logs it, sampled per cause (logsample.go).
func (s *Service) unavailable(x *exchange, err error) error {
	msg, body := storeFailure(err) // seed.go
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.StoreUnavailable(unavailableReason(err))
		if errors.Is(err, errNotCounted) {
			s.cfg.Metrics.Throttled(ThrottleNotCounted)
		}
	}
	s.cfg.Logs.Error(s.logger, ErrorCause(err), msg, zap.String("path", x.r.URL.Path), zap.Error(err))
	x.w.Header().Set("Retry-After", "1")
	WritePage(x.w, http.StatusServiceUnavailable, body)
	return nil
}
