// Package restpath reads a request path the way RestComm (Jersey 1 behind
// its AcceptFilter) reads it, once, so that authentication, the policy and
// routing all agree on which resource and which account a request names.
// Anything RestComm could read differently from us is refused (ErrAmbiguous),
// never guessed.
package restpath

import (
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Prefix is RestComm's API root: the /restcomm context and Jersey's servlet
// mapping /2012-04-24/*.
const Prefix = "/restcomm/2012-04-24/"

// Errors returned by Parse.
var (
	// ErrNotAPI: the path is not below Prefix.
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
	Rel string
	// Segments are the decoded segments below Prefix with a trailing ".json"
	// removed from each when JSON is set (AcceptFilter), and without the
	// one trailing empty segment Jersey tolerates.
	Segments []string
	// JSON: the path contains ".json" (outside Profiles), so the response is
	// JSON whatever the Accept header says.
	JSON bool
	// Route and ID (the {id} of Account, Migrate and Organization routes).
	Route Route
	ID    string
	// AccountSid is the account an /Accounts/{sid}/... sub-resource path
	// names, for proxied paths.
	AccountSid string
}

// Parse reads an escaped request path (r.URL.EscapedPath()).
func Parse(escaped string) (*Path, error) {
	if !strings.HasPrefix(escaped, "/") {
		return nil, ErrAmbiguous
	}
	raw := strings.Split(escaped[1:], "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		d, err := decodeSegment(s)
		if err != nil {
			return nil, err
		}
		segs[i] = d
	}
	if len(segs) < 3 || segs[0] != "restcomm" || segs[1] != "2012-04-24" {
		return nil, ErrNotAPI
	}
	segs = segs[2:]
	p := &Path{Rel: strings.Join(segs, "/")}
	// Jersey tolerates one trailing slash; empty segments elsewhere (//)
	// are read differently by the container and Jersey.
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
			s = strings.TrimSuffix(s, ".json")
			if s == "" {
				return nil, ErrAmbiguous
			}
			segs[i] = s
		}
	}
	p.Segments = segs
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

// decodeSegment percent-decodes one path segment, refusing what the servlet
// container, Jersey and the gateway might read differently: encoded
// slashes and backslashes, dot segments, matrix parameters, NUL and other
// control characters, and invalid (including overlong) UTF-8.
func decodeSegment(s string) (string, error) {
	d, err := url.PathUnescape(s)
	if err != nil {
		return "", ErrAmbiguous
	}
	if d == "." || d == ".." || !utf8.ValidString(d) {
		return "", ErrAmbiguous
	}
	for i := 0; i < len(d); i++ {
		switch c := d[i]; {
		case c < 0x20, c == 0x7f, c == '/', c == '\\', c == ';':
			return "", ErrAmbiguous
		}
	}
	return d, nil
}
