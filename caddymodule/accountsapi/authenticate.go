package accountsapi

import (
	"context"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
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
func (s *Service) authenticate(x *exchange) error {
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
	if t := s.cfg.Policy().Throttle(); hasCreds && t.Enabled() {
		x.failed = store.NewFailedLogins(creds.user, s.clientIP(x.r), t.Window, t.LoginIPMax, t.IPMax)
	}
	var redis lazyRedis // only a request that needs Redis sets up its deadline
	defer redis.done()
	res, counts, ok := s.fromMemory(x, lookups)
	if !ok {
		ctx := redis.context(x)
		if err := s.ensureSeeded(ctx); err != nil { // seed.go
			return err
		}
		var err error
		if res, counts, err = s.resolver.ResolveCounting(ctx, x.failed, lookups...); err != nil {
			return err
		}
	}
	if counts != nil {
		x.failures = counts
	}
	if hasCreds {
		login := &res[0]
		token := dummyToken
		switch {
		case login.Ambiguous:
			// Several accounts answer to this e-mail address (RestComm
			// answers 500): none of them is the caller, and it is counted
			// as any unknown login is (recordFailedLogin).
			s.cfg.Logs.Warn(s.logger, "ambiguous login", "login matches several accounts; refused",
				zap.String("login", creds.user), zap.String("client_ip", s.clientIP(x.r)))
		case login.Account != nil:
			token = login.Account.AuthToken
		default:
			if err := s.seed.verify(redis.context(x), s.store); err != nil {
				return err // a login that matches nothing: has the store lost its data?
			}
		}
		// the comparison runs for unknown users too: same work either way
		if secretMatches(creds.secret, token) && login.Account != nil && !login.Ambiguous {
			x.caller = login
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

// fromMemory resolves lookups without Redis when the resolver can, once
// the namespace has been seen marked (seed.go), unless x is being decided
// again after a stale write (exchange.again).
func (s *Service) fromMemory(x *exchange, lookups []store.Lookup) ([]store.Resolved, *store.FailureCounts, bool) {
	m, ok := s.resolver.(MemoryResolver)
	if !ok || x.fromRedis || !s.seed.done.Load() {
		return nil, nil, false
	}
	return m.Cached(x.failed, lookups...)
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

// recordFailedLogin counts a login that failed: credentials that matched no
// account, answered 401. A request refused for being throttled is not
// counted again, and nothing is recorded for a login that succeeded, so a
// successful request costs no Redis work for the throttle.
func (s *Service) recordFailedLogin(x *exchange) {
	if x.failed == nil || x.caller != nil || x.decision.Allow || x.decision.Status != http.StatusUnauthorized {
		return
	}
	ctx, done := x.redis()
	defer done()
	err := s.store.RecordFailedLogin(ctx, x.failed)
	if err != nil {
		// The 401 stands; the failure just goes uncounted.
		s.logger.Warn("failed login not counted", zap.Error(err))
	}
	if s.cfg.AfterFailedLogin != nil { // counted, or perhaps counted
		s.cfg.AfterFailedLogin(s.clientIP(x.r))
	}
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
