package accountsapi

import (
	"context"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/store"
)

// authenticate loads the caller (by its credentials), the target account
// of the operation and the failed-login counts of the caller's login, from
// memory or in one Redis round trip (Config.Resolver), and verifies the
// credentials.
//
// Credentials verified on what memory answered stand only if the client's
// network was not marked failing meanwhile; otherwise everything is read
// again from Redis, counts included. Failures are marked before they are
// counted (countFailedLogin), so on one gateway a success either came
// before every failure that gateway counted from that network, or read
// the counts with them: once the limit is reached, the right password is
// refused too. Across gateways, another's failures reach this memory
// through the change feed, about a millisecond later (at most TrustFor):
// in between, a right password answered from memory may still succeed.
// That gives no guess more: every wrong one is counted in Redis, whichever
// gateway answers it.
func (s *Service) authenticate(x *exchange) error {
	creds, hasCreds := parseBasic(x.r.Header.Get("Authorization"))
	l := lookupsOf(x, creds, hasCreds)
	if len(l.list) == 0 {
		return nil // e.g. an anonymous Logout: no need for Redis at all
	}
	if t := s.cfg.Policy().Throttle(); hasCreds && t.Enabled() {
		network := store.ClientNetwork(s.clientIP(x.r), t.IPv6PrefixLength)
		x.failed = store.NewFailedLogins(creds.user, network, t.Window, t.LoginIPMax, t.IPMax)
	}
	var redis lazyRedis // only a request that needs Redis sets up its deadline
	defer redis.done()
	res, inMemory, err := s.resolve(x, &redis, l.list, x.fromRedis)
	if err != nil {
		return err
	}
	if l.caller != noSlot {
		var caller *store.Resolved
		if caller, res, err = s.identify(x, &redis, &l, creds, res, inMemory); err != nil {
			return err
		}
		x.caller = caller
	}
	if l.target != noSlot {
		x.target = &res[l.target]
	}
	if l.pathAccount != noSlot {
		x.pathAccount = &res[l.pathAccount]
	}
	return nil
}

// authLookups are what authenticate asks the resolver for, and where each
// answer is in what it answers (noSlot: not asked).
type authLookups struct {
	list                        []store.Lookup
	caller, target, pathAccount int
}

const noSlot = -1

func (l *authLookups) add(lookup store.Lookup) int {
	l.list = append(l.list, lookup)
	return len(l.list) - 1
}

// lookupsOf are x's lookups: with credentials, the caller by its login, the
// operation's target and the account in the path. Without credentials the
// answer is 401 before any target matters, so anonymous traffic costs no
// Redis work.
func lookupsOf(x *exchange, creds credentials, hasCreds bool) authLookups {
	l := authLookups{caller: noSlot, target: noSlot, pathAccount: noSlot}
	if !hasCreds {
		return l
	}
	l.caller = l.add(store.Lookup{Mode: store.ByLogin, ID: creds.user})
	if x.op.target != "" {
		l.target = l.add(store.Lookup{Mode: x.op.target, ID: x.path.ID})
	}
	if x.path.AccountSid != "" {
		l.pathAccount = l.add(store.Lookup{Mode: store.ByID, ID: x.path.AccountSid})
	}
	return l
}

// identify verifies creds on the caller's answer in res, and returns the
// caller (nil when they are wrong). When memory answered and x's client
// network has been marked failing since, everything is resolved again
// from Redis and verified there: res is then Redis's answer.
func (s *Service) identify(x *exchange, redis *lazyRedis, l *authLookups, creds credentials, res []store.Resolved, inMemory bool) (*store.Resolved, []store.Resolved, error) {
	caller, err := s.verify(x, redis, creds, &res[l.caller])
	if err != nil || caller == nil || !inMemory || !s.failingNow(x) { // no failure marked since memory answered
		return caller, res, err
	}
	if res, _, err = s.resolve(x, redis, l.list, true); err != nil {
		return nil, nil, err
	}
	caller, err = s.verify(x, redis, creds, &res[l.caller])
	return caller, res, err
}

// resolve resolves lookups, with x's failed-login counts (x.failures),
// from memory when the resolver can (MemoryResolver), once the namespace
// has been seen marked (seed.go), unless fromRedis; else in one Redis
// round trip. inMemory says which.
func (s *Service) resolve(x *exchange, redis *lazyRedis, lookups []store.Lookup, fromRedis bool) (res []store.Resolved, inMemory bool, err error) {
	var counts *store.FailureCounts
	if m, ok := s.resolver.(MemoryResolver); ok && !fromRedis && s.seed.done.Load() {
		res, counts, inMemory = m.Cached(x.failed, lookups...)
	}
	if !inMemory {
		ctx := redis.context(x)
		if err := s.ensureSeeded(ctx); err != nil { // seed.go
			return nil, false, err
		}
		if res, counts, err = s.resolver.ResolveCounting(ctx, x.failed, lookups...); err != nil {
			return nil, false, err
		}
	}
	if counts != nil {
		x.failures = counts
	}
	return res, inMemory, nil
}

// verify returns the caller login names when the secret is its password,
// else nil.
func (s *Service) verify(x *exchange, redis *lazyRedis, creds credentials, login *store.Resolved) (*store.Resolved, error) {
	token := dummyToken
	switch {
	case login.Ambiguous:
		// Several accounts answer to this e-mail address (RestComm
		// answers 500): none of them is the caller, and it is counted
		// as any unknown login is (countFailedLogin).
		s.cfg.Logs.Warn(s.logger, "ambiguous login", "login matches several accounts; refused",
			zap.String("login", creds.user), zap.String("client_ip", s.clientIP(x.r)))
	case login.Account != nil:
		token = login.Account.AuthToken
	default:
		if err := s.seed.verify(redis.context(x), s.store); err != nil {
			return nil, err // a login that matches nothing: has the store lost its data?
		}
	}
	// the comparison runs for unknown users too: same work either way
	if secretMatches(creds.secret, token) && login.Account != nil && !login.Ambiguous {
		return login, nil
	}
	return nil, nil
}

// failingNow reports whether x's client network is now marked failing in
// memory (MemoryResolver.Failing): its credentials must be verified on
// what Redis holds, with the counts.
func (s *Service) failingNow(x *exchange) bool {
	m, ok := s.resolver.(MemoryResolver)
	return ok && x.failed != nil && m.Failing(x.failed.IP)
}

// lazyRedis is a request's Redis context (exchange.redis), made the first
// time it is needed.
type lazyRedis struct {
	ctx    context.Context
	finish func()
}

func (l *lazyRedis) context(x *exchange) context.Context {
	if l.ctx == nil {
		l.ctx, l.finish = x.redis()
	}
	return l.ctx
}

func (l *lazyRedis) done() {
	if l.finish != nil {
		l.finish()
	}
}

// errNotCounted: a failed login could not be counted (Redis refused the
// write, or its outcome is unknown). It is answered 503, never 401: a 401
// that is not counted would be a free guess.
var errNotCounted = errors.New("failed login not counted")

// countFailedLogin counts a login that failed, before it is answered:
// credentials that matched no account, which the policy refused with 401.
// A request the policy refused for being throttled is not counted again,
// and nothing is counted for a login that succeeded, so a successful
// request costs no Redis write for the throttle.
//
// The counters are checked and added to in one atomic step
// (store.CountFailedLogin), so that however many attempts run at once,
// from memory or not, at most the limit are counted and answered 401.
// An attempt that finds a counter full is not counted: x is decided again
// on the full counts, and gets the policy's throttled decision (429,
// Retry-After) as any later attempt would. An error means 503
// (errNotCounted).
func (s *Service) countFailedLogin(x *exchange) error {
	if x.failed == nil || x.caller != nil || x.decision.Allow || x.decision.Status != http.StatusUnauthorized {
		return nil
	}
	if m, ok := s.resolver.(MemoryResolver); ok {
		m.FailedLogin(x.failed.IP) // before the count: see authenticate
	}
	ctx, done := x.redis()
	counted, counts, err := s.store.CountFailedLogin(ctx, x.failed)
	done()
	if s.cfg.AfterFailedLogin != nil && (counted || store.Uncertain(err)) { // counted, or perhaps counted
		s.cfg.AfterFailedLogin(x.failed.IP)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errNotCounted, err)
	}
	if !counted {
		x.failures = counts
		x.decision = s.decide(x.r.Context(), x) // decide.go
	}
	return nil
}

// Why the failed-login throttle refused a request (Metrics.Throttled):
// one login from one client network reached login_ip_max_failures; the
// client network reached ip_max_failures; the policy answered 429 on the
// counts for a reason of its own (an overlay); a failed login could not
// be counted and was answered 503 (errNotCounted).
const (
	ThrottleLoginIP    = "login_ip"
	ThrottleIP         = "ip"
	ThrottlePolicy     = "policy"
	ThrottleNotCounted = "store_unavailable"
)

// ThrottleReasons are every reason Metrics.Throttled is given.
var ThrottleReasons = []string{ThrottleLoginIP, ThrottleIP, ThrottlePolicy, ThrottleNotCounted}

// countThrottled tells the metrics of a request the policy refused with
// 429 on its failed-login counts.
func (s *Service) countThrottled(x *exchange) {
	if s.cfg.Metrics == nil || x.failed == nil || x.failures == nil ||
		x.decision.Allow || x.decision.Status != http.StatusTooManyRequests {
		return
	}
	reason := ThrottlePolicy
	switch f := x.failures; {
	case x.failed.LoginIPLimit > 0 && f.LoginIP >= x.failed.LoginIPLimit:
		reason = ThrottleLoginIP
	case x.failed.IPLimit > 0 && f.IP >= x.failed.IPLimit:
		reason = ThrottleIP
	}
	s.cfg.Metrics.Throttled(reason)
}

// credentials are the user and secret of an Authorization header.
type credentials struct {
	user, secret string
}

// parseBasic reads an Authorization header exactly as RestComm's
// UserIdentityContext does: split on single spaces, first token exactly
// "Basic" (case-sensitive), the second token trimmed and Base64-decoded
// leniently, then split on the first ':'. ok is false when that yields no
// user and secret pair.
func parseBasic(header string) (c credentials, ok bool) {
	scheme, rest, found := strings.Cut(header, " ")
	if !found || scheme != "Basic" {
		return c, false
	}
	token, _, _ := strings.Cut(rest, " ")
	decoded := decodeBase64Lenient(strings.TrimSpace(token))
	user, secret, found := strings.Cut(decoded, ":")
	if !found {
		return c, false
	}
	return credentials{user: user, secret: secret}, true
}

// decodeBase64Lenient decodes like commons-codec's Base64.decodeBase64:
// characters outside the (standard and URL-safe) alphabet are skipped, the
// first '=' ends the data, and missing padding is fine. The result is read
// as UTF-8 with invalid sequences replaced, as Java's new String(…, UTF-8).
func decodeBase64Lenient(s string) string {
	out := make([]byte, 0, len(s)*3/4)
	var acc uint32
	n := 0
	for i := 0; i < len(s); i++ {
		v := b64value(s[i])
		if s[i] == '=' {
			break
		}
		if v < 0 {
			continue
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	switch n { // a lone trailing character carries no whole byte
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	if utf8.Valid(out) {
		return string(out)
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

func b64value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+' || c == '-':
		return 62
	case c == '/' || c == '_':
		return 63
	}
	return -1
}

// dummyToken stands in for the stored token of an unknown user, so that a
// miss costs the same work as a wrong secret.
const dummyToken = "00000000000000000000000000000000"

// secretMatches is RestComm's AccountKey.verify: the secret is the stored
// AuthToken itself, or its lower-case hex MD5 is. Both comparisons always
// run, in constant time. An empty secret never matches, whatever is
// stored: RestComm would let it in on an empty AuthToken, or on the MD5
// of "" (an imported account without a password).
func secretMatches(secret, authToken string) bool {
	if secret == "" {
		return false // the client's own choice: its refusal tells nothing of the token
	}
	sum := md5.Sum([]byte(secret))
	var hexSum [32]byte
	hex.Encode(hexSum[:], sum[:])
	plain := subtle.ConstantTimeCompare([]byte(secret), []byte(authToken))
	hashed := subtle.ConstantTimeCompare(hexSum[:], []byte(authToken))
	return plain|hashed == 1
}
