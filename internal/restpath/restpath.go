// Package restpath reads a request path the way RestComm reads it, once, so
// that authentication, the policy and routing all agree on which resource
// and which account a request names. Anything RestComm's stack could read
// differently from the gateway is refused (ErrAmbiguous, answered 400),
// never guessed.
//
// Three readers stand behind RestComm's API and each reads the path its own
// way:
//
//   - the servlet container (JBoss Web 7.2, Tomcat-derived) percent-decodes
//     the path, cuts path parameters (";…"), folds "//", resolves "." and
//     ".." and then maps it, case-sensitively, to the /restcomm context and
//     the Jersey servlet /2012-04-24/*;
//   - Jersey 1 does not use that mapping: it takes the raw request URI and
//     cuts off as many characters as the base path "/restcomm/2012-04-24/"
//     has, matches resources against the still-encoded rest (so "%41ccounts"
//     is not "Accounts"), strips matrix parameters before matching and
//     decodes template values afterwards;
//   - RestComm's AcceptFilter rebuilds every URI that contains ".json"
//     from its decoded segments through UriBuilder, which re-reads percent
//     sequences and braces in them, and keeps the first value of each query
//     parameter.
//
// The gateway therefore accepts a RestComm API path only in the one
// spelling on which all three agree — the raw path starts with exactly
// "/restcomm/2012-04-24/", has no empty, dot or parameterised segment and
// no encoded character that a reader could take differently — and reads it
// exactly as Jersey does. Every other spelling that the container would
// still map to the API is refused.
//
// Sources: JBoss Web 7.2 org.apache.catalina.connector.CoyoteAdapter
// (postParseRequest, normalize; ALLOW_ENCODED_SLASH and ALLOW_BACKSLASH
// false by default), Jersey 1.14 ServletContainer.service,
// WebApplicationImpl._handleRequest, UriComponent and UriBuilderImpl, and
// RestComm's SecurityFilter and AcceptFilter (restcomm.http, 8.x).
package restpath

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Prefix is RestComm's API root: the /restcomm context and Jersey's servlet
// mapping /2012-04-24/*.
const Prefix = "/restcomm/2012-04-24/"

// root is Prefix without its slash; Jersey serves it as Prefix.
const root = "/restcomm/2012-04-24"

// Errors returned by Parse.
var (
	// ErrNotAPI: the servlet container would not map the path to RestComm's
	// API in any spelling; it is none of the gateway's business.
	ErrNotAPI = errors.New("not a RestComm API path")
	// ErrAmbiguous: the gateway cannot be sure RestComm reads the path as
	// the gateway does; answer 400.
	ErrAmbiguous = errors.New("ambiguous request path")
)

// Route says which resource a request path names.
type Route int

const (
	// Proxied: any other API resource, served by the upstream RestComm.
	Proxied Route = iota
	// AccountList is /Accounts (list, create).
	AccountList
	// Account is /Accounts/{id} (read, update).
	Account
	// Migrate is /Accounts/migrate/{id}.
	Migrate
	// OrganizationList is /Organizations.
	OrganizationList
	// Organization is /Organizations/{id}.
	Organization
	// OrganizationOther is a deeper /Organizations/... path.
	OrganizationOther
)

// Path is one request path as RestComm reads it.
type Path struct {
	// Rel is the decoded path below Prefix, before .json removal: what
	// RestComm's SecurityFilter matches ("Accounts.json/AC…/Calls.json").
	// It is "" for the API root itself.
	Rel string
	// Segments are the decoded segments below Prefix with a trailing ".json"
	// removed from each when JSON is set (AcceptFilter), and without the
	// one trailing empty segment Jersey tolerates: what Jersey routes on
	// and injects as path parameters. Empty for the API root.
	Segments []string
	// JSON: the path contains ".json" (outside Profiles), so the response is
	// JSON whatever the Accept header says, and RestComm rebuilds the URI.
	JSON bool
	// Route and ID (the {id} of Account, Migrate and Organization routes).
	Route Route
	ID    string
	// AccountSid is the account an /Accounts/{sid}/... sub-resource path
	// names (Jersey's {accountSid}, decoded), for proxied paths. RestComm's
	// sub-resource endpoints look it up by friendly name, then e-mail, then
	// SID (AccountsDao.getAccount(String)).
	AccountSid string
}

// ParseRequest reads a request's escaped path (r.URL.EscapedPath(), which is
// what reverse_proxy sends upstream) and raw query. The query matters only
// on .json paths, which RestComm rebuilds (see CheckQuery).
func ParseRequest(escapedPath, rawQuery string) (*Path, error) {
	p, err := Parse(escapedPath)
	if err != nil {
		return nil, err
	}
	if p.JSON {
		if err := CheckQuery(rawQuery); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Parse reads an escaped request path (r.URL.EscapedPath()).
func Parse(escaped string) (*Path, error) {
	var rest string
	switch {
	case escaped == root:
		// Jersey appends the slash (ServletContainer.service)
	case strings.HasPrefix(escaped, Prefix):
		rest = escaped[len(Prefix):]
	default:
		if containerMapsToAPI(escaped) {
			return nil, ErrAmbiguous
		}
		return nil, ErrNotAPI
	}
	if rest == "" {
		return &Path{Route: Proxied}, nil
	}
	raw := strings.Split(rest, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		d, err := decodeSegment(s)
		if err != nil {
			return nil, err
		}
		segs[i] = d
	}
	p := &Path{Rel: strings.Join(segs, "/")}
	// Jersey tolerates one trailing slash; empty segments elsewhere (//)
	// are folded by the container but not by Jersey.
	if n := len(segs); n > 1 && segs[n-1] == "" {
		segs = segs[:n-1]
	}
	for _, s := range segs {
		if s == "" {
			return nil, ErrAmbiguous
		}
	}
	p.JSON = strings.Contains(p.Rel, ".json") && !strings.Contains(p.Rel, "Profiles")
	if p.JSON {
		for i, s := range segs {
			if !survivesRebuild(s) {
				return nil, ErrAmbiguous
			}
			s = strings.TrimSuffix(s, ".json")
			if s == "" || s == "." || s == ".." {
				// UriBuilder.path("") drops the segment altogether;
				// "..json" and "...json" become dot segments, which
				// would move the rebuilt URI ("Accounts/AC1/...json"
				// reads as "Accounts")
				return nil, ErrAmbiguous
			}
			segs[i] = s
		}
	}
	p.Segments = segs
	if disguised(segs) {
		return nil, ErrAmbiguous
	}
	p.classify()
	return p, nil
}

func (p *Path) classify() {
	s := p.Segments
	switch s[0] {
	case "Accounts":
		switch {
		case len(s) == 1:
			p.Route = AccountList
		case len(s) == 2:
			p.Route, p.ID = Account, s[1]
		case len(s) == 3 && s[1] == "migrate":
			p.Route, p.ID = Migrate, s[2]
		default:
			p.AccountSid = s[1]
		}
	case "Organizations":
		switch len(s) {
		case 1:
			p.Route = OrganizationList
		case 2:
			p.Route, p.ID = Organization, s[1]
		default:
			p.Route = OrganizationOther
		}
	}
}

// disguised reports spellings of the Accounts and Organizations routes that
// RestComm would not route there (Jersey matches literals case-sensitively)
// but that nobody sends except to probe: /accounts, /ACCOUNTS.json,
// /Accounts.json when .json is not stripped (a path containing "Profiles"),
// /Accounts/MIGRATE/{id}. Refusing them costs nothing and keeps every
// Accounts and Organizations route away from the upstream.
func disguised(segs []string) bool {
	first := segs[0]
	lower := strings.ToLower(first)
	if strings.HasPrefix(lower, "accounts") && first != "Accounts" ||
		strings.HasPrefix(lower, "organizations") && first != "Organizations" {
		return true
	}
	return first == "Accounts" && len(segs) >= 3 &&
		strings.EqualFold(segs[1], "migrate") && segs[1] != "migrate"
}

// decodeSegment percent-decodes one raw path segment, refusing what the
// servlet container, Jersey and the gateway might read differently.
func decodeSegment(s string) (string, error) {
	var b []byte // decoded bytes, allocated on the first escape
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if !rawPathChar(c) {
				return "", ErrAmbiguous
			}
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", ErrAmbiguous
		}
		d := unhex(s[i+1])<<4 | unhex(s[i+2])
		if unreservedNoTilde(d) {
			// Jersey matches the encoded form: "%41ccounts" is not
			// "Accounts", yet decodes to it; nothing legitimate sends it.
			return "", ErrAmbiguous
		}
		if b == nil {
			b = make([]byte, 0, len(s))
			b = append(b, s[:i]...)
		}
		b = append(b, d)
		i += 2
	}
	d := s
	if b != nil {
		d = string(b)
	}
	if d == "." || d == ".." || !safeText(d) {
		return "", ErrAmbiguous
	}
	return d, nil
}

// safeText: valid UTF-8 (no overlong forms, no surrogates) without '/',
// '\' (the container refuses both encoded), ';' (a matrix parameter once
// RestComm rebuilds the URI), NUL or any control character, and without
// U+0085, U+2028 and U+2029, which end a line for Java's regular
// expressions (SecurityFilter's unprotected paths) but not for Go's.
func safeText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f, r == 0x2028, r == 0x2029,
			r == '/', r == '\\', r == ';':
			return false
		}
	}
	return true
}

// survivesRebuild reports whether a decoded segment comes back unchanged
// from AcceptFilter's rebuild (UriBuilder.path, i.e. UriComponent's
// contextual encoding with templates, then decoding again): not when it
// holds a percent sign (an escape would be decoded twice), a brace (a
// template: RestComm answers 500) or a character outside the Basic
// Multilingual Plane (each UTF-16 half is encoded alone, as "?").
func survivesRebuild(s string) bool {
	for _, r := range s {
		if r == '%' || r == '{' || r == '}' || r > 0xffff {
			return false
		}
	}
	return true
}

// CheckQuery checks the raw query of a .json request the way AcceptFilter
// reads and rebuilds it: parameters split on '&', names and values decoded
// by java.net.URLDecoder ('+' is a space), then encoded again one by one.
// A malformed escape (RestComm: 500), invalid UTF-8, or a decoded name or
// value that the rebuild would change (see survivesRebuild) is refused.
// RestComm then keeps only the first value of each name; the gateway
// forwards the query as sent and leaves that to it.
func CheckQuery(raw string) error {
	for raw != "" {
		var param string
		param, raw, _ = strings.Cut(raw, "&")
		if param == "" {
			continue
		}
		name, value, hasValue := strings.Cut(param, "=")
		if hasValue && name == "" {
			continue // AcceptFilter ignores a parameter without a name
		}
		for _, part := range []string{name, value} {
			d, ok := urlDecode(part)
			if !ok || !survivesRebuild(d) {
				return ErrAmbiguous
			}
		}
	}
	return nil
}

// urlDecode is java.net.URLDecoder.decode for well-formed input.
func urlDecode(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b = append(b, ' ')
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", false
			}
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	if !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

// rawPathChar: the characters java.net.URI accepts unescaped in a path
// segment (RFC 2396 unreserved and punctuation, the same as RFC 3986's
// pchar). Jersey parses the request URL with java.net.URI and refuses
// anything else with 400 (ServletContainer.service); Go's EscapedPath
// escapes all but '[' and ']'.
func rawPathChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@':
		return true
	}
	return false
}

// unreservedNoTilde: RFC 3986 unreserved characters, which no client needs
// to escape, except '~', which java.net.URLEncoder escapes.
func unreservedNoTilde(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// containerMapsToAPI reports whether a servlet container could map the
// path to the RestComm API at all: after percent-decoding, with path
// parameters cut either at the first ';' (JBoss Web 7.2) or per segment
// (Tomcat 7+, Undertow), backslashes taken as slashes, "//", "." and ".."
// folded, and the context compared without regard to case (JBoss maps
// case-sensitively, but nothing is gained by relying on it). Such a path is
// an API request in a spelling the gateway does not accept.
func containerMapsToAPI(escaped string) bool {
	first, _, _ := strings.Cut(escaped, ";")
	return normalizedIsAPI(first) || normalizedIsAPI(stripSegmentParams(escaped))
}

func stripSegmentParams(p string) string {
	if !strings.Contains(p, ";") {
		return p
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i], _, _ = strings.Cut(s, ";")
	}
	return strings.Join(segs, "/")
}

func normalizedIsAPI(p string) bool {
	d := lenientDecode(p)
	d = strings.ReplaceAll(d, "\\", "/")
	var out []string
	for _, s := range strings.Split(d, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	return len(out) >= 2 && strings.EqualFold(out[0], "restcomm") && out[1] == "2012-04-24"
}

// lenientDecode decodes every well-formed escape and keeps the rest as is.
func lenientDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}
