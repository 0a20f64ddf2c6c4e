package restpath

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// canonicalPath is the one escaped spelling of an accepted Path: Prefix,
// then Rel with every byte that java.net.URI would not take raw in a path
// segment written as an upper-case %XX escape. Rel never holds '/' inside a
// segment (safeText refuses it), so splitting it on '/' gives back the
// segments, including the one trailing empty segment Jersey tolerates.
func canonicalPath(p *Path) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.WriteString(Prefix)
	for i := 0; i < len(p.Rel); i++ {
		c := p.Rel[i]
		if c == '/' || rawPathChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// samePath compares everything Parse reads; a nil and an empty Segments
// are the same reading (the API root).
func samePath(a, b *Path) bool {
	if len(a.Segments) == 0 && len(b.Segments) == 0 {
		a2, b2 := *a, *b
		a2.Segments, b2.Segments = nil, nil
		return reflect.DeepEqual(a2, b2)
	}
	return reflect.DeepEqual(a, b)
}

// FuzzParseRequest: whatever the path and query, ParseRequest neither
// panics nor returns anything but a Path or one of its two errors; an
// accepted path reads to one canonical spelling that re-reads to exactly
// the same Path (route, segments, id, account sid, JSON), that Go's own
// URL parser hands back unchanged as EscapedPath (what reverse_proxy sends
// upstream), and whose query check agrees with the original's.
func FuzzParseRequest(f *testing.F) {
	for _, s := range [][2]string{
		{"/restcomm/2012-04-24/Accounts.json/" + admin, ""},
		{"/restcomm/2012-04-24", ""},
		{"/restcomm/2012-04-24/", "x=1"},
		{"/restcomm/2012-04-24/Accounts/", ""},
		{"/restcomm/2012-04-24/Accounts.json/" + admin + "/Calls.json", "Page=1&PageSize=%7B"},
		{"/restcomm/2012-04-24/Accounts.json/administrator%40company.com", "a=%e2%82%ac&b"},
		{"/restcomm/2012-04-24/Accounts/Default%20Administrator%20Account", ""},
		{"/restcomm/2012-04-24/Accounts/migrate/" + admin + ".json", ""},
		{"/restcomm/2012-04-24/Accounts/%C3%A9t%C3%A9~x/SMS/Messages", ""},
		{"/restcomm/2012-04-24/Accounts/%e2%82%ac%25", ""},
		{"/restcomm/2012-04-24/Organizations/ORx/Migrate.json", "=x&y="},
		{"/restcomm/2012-04-24/Profiles/PRx.json", "{"},
		{"/restcomm/2012-04-24/%41ccounts", ""},
		{"/restcomm/2012-04-24/Accounts%2F..", ""},
		{"/restcomm/2012-04-24//Accounts", ""},
		{"/restcomm/2012-04-24/Accounts;x=1/AC1", ""},
		{"/RESTCOMM/2012-04-24/x", ""},
		{"/restcomm/./2012-04-24/Accounts", ""},
		{"/restcomm/2012-04-24/.json", ""},
		{"/restcomm/2012-04-24/Accounts/a%F0%9F%98%80b.json", ""},
		{"/x", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, escaped, query string) {
		p, err := ParseRequest(escaped, query)
		if err != nil {
			if p != nil {
				t.Fatalf("%q: both a Path and an error", escaped)
			}
			if !errors.Is(err, ErrNotAPI) && !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("%q: unexpected error %v", escaped, err)
			}
			return
		}
		if p == nil {
			t.Fatalf("%q: neither a Path nor an error", escaped)
		}

		// Independent decoding: the accepted spelling, percent-decoded by
		// net/url, is the Rel that RestComm's SecurityFilter matches.
		if escaped != root {
			rel, err := url.PathUnescape(strings.TrimPrefix(escaped, Prefix))
			if err != nil || rel != p.Rel || !strings.HasPrefix(escaped, Prefix) {
				t.Fatalf("%q: Rel %q, net/url reads %q (%v)", escaped, p.Rel, rel, err)
			}
		} else if p.Rel != "" {
			t.Fatalf("%q: Rel %q", escaped, p.Rel)
		}

		// The fields hang together.
		for _, s := range p.Segments {
			if s == "" || s == "." || s == ".." || !safeText(s) {
				t.Fatalf("%q: segment %q", escaped, s)
			}
		}
		if (len(p.Segments) == 0) != (p.Rel == "") {
			t.Fatalf("%q: Rel %q but segments %q", escaped, p.Rel, p.Segments)
		}
		switch p.Route {
		case AccountList, OrganizationList:
			if len(p.Segments) != 1 || p.ID != "" {
				t.Fatalf("%q: %+v", escaped, p)
			}
		case Account, Organization:
			if len(p.Segments) != 2 || p.ID != p.Segments[1] {
				t.Fatalf("%q: %+v", escaped, p)
			}
		case Migrate:
			if len(p.Segments) != 3 || p.Segments[1] != "migrate" || p.ID != p.Segments[2] {
				t.Fatalf("%q: %+v", escaped, p)
			}
		}
		if p.AccountSid != "" && (p.Route != Proxied || len(p.Segments) < 3 || p.Segments[0] != "Accounts" || p.AccountSid != p.Segments[1]) {
			t.Fatalf("%q: account sid %q in %+v", escaped, p.AccountSid, p)
		}
		if p.Route == Proxied && len(p.Segments) > 0 && (p.Segments[0] == "Accounts" || p.Segments[0] == "Organizations") && p.AccountSid == "" {
			t.Fatalf("%q: an Accounts or Organizations path proxied without its account: %+v", escaped, p)
		}

		// One canonical form, which re-reads to itself.
		c := canonicalPath(p)
		q, err := ParseRequest(c, query)
		if err != nil {
			t.Fatalf("%q accepted but its canonical form %q refused: %v", escaped, c, err)
		}
		if !samePath(p, q) {
			t.Fatalf("%q and its canonical form %q read differently:\n%+v\n%+v", escaped, c, p, q)
		}
		if c2 := canonicalPath(q); c2 != c {
			t.Fatalf("canonical form not stable: %q -> %q", c, c2)
		}
		// Go's URL parser keeps that spelling as the escaped path.
		u, err := url.Parse(c)
		if err != nil || u.EscapedPath() != c {
			t.Fatalf("canonical %q comes back from net/url as %q (%v)", c, u.EscapedPath(), err)
		}
	})
}
