package restpath

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const admin = "ACae6e420f425248d6a26948c17a9e2acf"

func TestParseRoutes(t *testing.T) {
	cases := []struct {
		path  string
		route Route
		id    string
		json  bool
		rel   string
	}{
		{"/restcomm/2012-04-24/Accounts", AccountList, "", false, "Accounts"},
		{"/restcomm/2012-04-24/Accounts/", AccountList, "", false, "Accounts/"},
		{"/restcomm/2012-04-24/Accounts.json", AccountList, "", true, "Accounts.json"},
		{"/restcomm/2012-04-24/Accounts/" + admin, Account, admin, false, "Accounts/" + admin},
		{"/restcomm/2012-04-24/Accounts.json/" + admin, Account, admin, true, "Accounts.json/" + admin},
		{"/restcomm/2012-04-24/Accounts/" + admin + ".json", Account, admin, true, "Accounts/" + admin + ".json"},
		{"/restcomm/2012-04-24/Accounts.json/" + admin + ".json", Account, admin, true, ""},
		{"/restcomm/2012-04-24/Accounts.json/" + admin + "/", Account, admin, true, ""},
		{"/restcomm/2012-04-24/Accounts.json/administrator%40company.com", Account, "administrator@company.com", true, "Accounts.json/administrator@company.com"},
		{"/restcomm/2012-04-24/Accounts.json/Default%20Administrator%20Account", Account, "Default Administrator Account", true, ""},
		{"/restcomm/2012-04-24/Accounts.json/migrate/" + admin, Migrate, admin, true, ""},
		{"/restcomm/2012-04-24/Accounts/migrate", Account, "migrate", false, ""},
		{"/restcomm/2012-04-24/Accounts/MIGRATE", Account, "MIGRATE", false, ""},
		{"/restcomm/2012-04-24/Organizations.json", OrganizationList, "", true, ""},
		{"/restcomm/2012-04-24/Organizations/ORx", Organization, "ORx", false, ""},
		{"/restcomm/2012-04-24/Organizations/ORx/Migrate", OrganizationOther, "", false, ""},
		{"/restcomm/2012-04-24/Accounts.json/" + admin + "/Calls.json", Proxied, "", true, ""},
		{"/restcomm/2012-04-24/Profiles/PRx.json", Proxied, "", false, ""},
		{"/restcomm/2012-04-24/", Proxied, "", false, ""},
		{"/restcomm/2012-04-24", Proxied, "", false, ""},
		{"/restcomm/2012-04-24/Logout", Proxied, "", false, "Logout"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			p, err := Parse(c.path)
			require.NoError(t, err)
			assert.Equal(t, c.route, p.Route)
			assert.Equal(t, c.id, p.ID)
			assert.Equal(t, c.json, p.JSON)
			if c.rel != "" {
				assert.Equal(t, c.rel, p.Rel)
			}
		})
	}
}

// Sub-resource paths: the account Jersey injects as {accountSid}, the path
// the SecurityFilter matches, and the segments Jersey routes on.
func TestParseSubresources(t *testing.T) {
	cases := []struct {
		path, account, rel string
		segments           []string
	}{
		{"/restcomm/2012-04-24/Accounts.json/ACx/Calls.json", "ACx", "Accounts.json/ACx/Calls.json", []string{"Accounts", "ACx", "Calls"}},
		{"/restcomm/2012-04-24/Accounts/ACx/Calls", "ACx", "Accounts/ACx/Calls", []string{"Accounts", "ACx", "Calls"}},
		{"/restcomm/2012-04-24/Accounts/ACx.json/Calls", "ACx", "Accounts/ACx.json/Calls", []string{"Accounts", "ACx", "Calls"}},
		{"/restcomm/2012-04-24/Accounts/a%40b.com/Clients/", "a@b.com", "Accounts/a@b.com/Clients/", []string{"Accounts", "a@b.com", "Clients"}},
		{"/restcomm/2012-04-24/Accounts/My%20Name/SMS/Messages", "My Name", "Accounts/My Name/SMS/Messages", []string{"Accounts", "My Name", "SMS", "Messages"}},
		{"/restcomm/2012-04-24/Accounts/a+b/Calls", "a+b", "Accounts/a+b/Calls", []string{"Accounts", "a+b", "Calls"}},
		{"/restcomm/2012-04-24/Accounts/a%2Bb/Calls", "a+b", "Accounts/a+b/Calls", []string{"Accounts", "a+b", "Calls"}},
		// Non-JSON paths are not rebuilt: a decoded '%', braces or an astral
		// character reach the endpoint as decoded once.
		{"/restcomm/2012-04-24/Accounts/100%25/Calls", "100%", "Accounts/100%/Calls", []string{"Accounts", "100%", "Calls"}},
		{"/restcomm/2012-04-24/Accounts/%7Bx%7D/Calls", "{x}", "Accounts/{x}/Calls", []string{"Accounts", "{x}", "Calls"}},
		{"/restcomm/2012-04-24/Accounts/%F0%9F%98%80/Calls", "\U0001F600", "", nil},
		{"/restcomm/2012-04-24/Accounts/%7Eme/Calls", "~me", "", nil},
		{"/restcomm/2012-04-24/Accounts/%C3%A9t%C3%A9/Calls.json", "été", "", nil},
		{"/restcomm/2012-04-24/Accounts/migrate/ACx/Calls", "migrate", "", nil},
		{"/restcomm/2012-04-24/Accounts/ACx/Recordings/REy.wav", "ACx", "Accounts/ACx/Recordings/REy.wav", nil},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			p, err := Parse(c.path)
			require.NoError(t, err)
			assert.Equal(t, Proxied, p.Route)
			assert.Equal(t, c.account, p.AccountSid)
			if c.rel != "" {
				assert.Equal(t, c.rel, p.Rel)
			}
			if c.segments != nil {
				assert.Equal(t, c.segments, p.Segments)
			}
		})
	}
}

func TestParseRefusesAmbiguousPaths(t *testing.T) {
	for path, why := range map[string]string{
		// the container
		"/restcomm/2012-04-24/Accounts/a%2Fb":          "encoded slash: container 400, Jersey would split on .json URLs",
		"/restcomm/2012-04-24/Accounts/a%2fb/Calls":    "encoded slash, lower-case hex",
		"/restcomm/2012-04-24/Accounts/a%5Cb/Calls":    "encoded backslash",
		"/restcomm/2012-04-24/Accounts/a%00b":          "NUL",
		"/restcomm/2012-04-24/Accounts/..":             "dot-dot",
		"/restcomm/2012-04-24/Calls/../Accounts/ACx":   "dot-dot in the middle",
		"/restcomm/2012-04-24/Accounts/./ACx":          "dot",
		"/restcomm/2012-04-24/Accounts/%2e%2e":         "encoded dot-dot",
		"/restcomm/2012-04-24/Accounts/.%2E/x":         "half-encoded dot-dot",
		"/restcomm/2012-04-24/Accounts/%2E":            "encoded dot",
		"/restcomm/2012-04-24//Accounts":               "doubled slash",
		"/restcomm/2012-04-24/Accounts//ACx/Calls":     "doubled slash in the middle",
		"/restcomm/2012-04-24//":                       "empty first segment",
		"/restcomm/2012-04-24/Accounts;x=1/ACx":        "matrix parameter",
		"/restcomm/2012-04-24/Accounts/ACx;jsessionid": "path parameter",
		"/restcomm/2012-04-24/Accounts/ACx%3B/Calls":   "encoded ';' becomes a matrix parameter on rebuild",
		"/restcomm/2012-04-24/Accounts/%C0%AF":         "overlong '/'",
		"/restcomm/2012-04-24/Accounts/%C0%AE%C0%AE":   "overlong dots",
		"/restcomm/2012-04-24/Accounts/%ED%A0%80":      "UTF-8 surrogate",
		"/restcomm/2012-04-24/Accounts/%FF":            "not UTF-8",
		"/restcomm/2012-04-24/Accounts/%zz":            "bad escape",
		"/restcomm/2012-04-24/Accounts/%4":             "short escape",
		"/restcomm/2012-04-24/Accounts/a%0Ab/Calls":    "line feed",
		"/restcomm/2012-04-24/Accounts/a%0Db/Calls":    "carriage return",
		"/restcomm/2012-04-24/Accounts/a%7Fb/Calls":    "DEL",
		"/restcomm/2012-04-24/Accounts/a%C2%85b/Calls": "NEL ends a line for Java regexes",
		"/restcomm/2012-04-24/Accounts/a%E2%80%A8b":    "LINE SEPARATOR",
		"/restcomm/2012-04-24/Accounts/a[b]/Calls":     "java.net.URI refuses brackets",
		"/restcomm/2012-04-24/Accounts/a b/Calls":      "raw space",
		"/restcomm/2012-04-24/Accounts/a\\b/Calls":     "raw backslash",
		// Jersey matches encoded text
		"/restcomm/2012-04-24/%41ccounts/ACx":            "encoded letter in a literal",
		"/restcomm/2012-04-24/Accounts/%6Digrate/ACx":    "encoded letter in migrate",
		"/restcomm/2012-04-24/Accounts/AC%61/Calls":      "encoded letter anywhere",
		"/restcomm/2012-04-24/Accounts/ACx/Calls%2Ejson": "encoded dot before json",
		"/restcomm/2012-04-24/Accounts/AC%31/Calls":      "encoded digit",
		// AcceptFilter's rebuild of .json URLs
		"/restcomm/2012-04-24/Accounts/.json":                 "segment vanishes",
		"/restcomm/2012-04-24/Accounts.json/.json/Calls":      "segment vanishes",
		"/restcomm/2012-04-24/Accounts/%7Bx%7D/Calls.json":    "template on rebuild: RestComm 500",
		"/restcomm/2012-04-24/Accounts/ACx/Calls/%7D.json":    "template on rebuild",
		"/restcomm/2012-04-24/Accounts/AC%2541/Calls.json":    "escape decoded twice",
		"/restcomm/2012-04-24/Accounts/%F0%9F%98%80/SMS.json": "astral character mangled on rebuild",
		// disguised Accounts and Organizations routes
		"/restcomm/2012-04-24/accounts/ACx":                   "case",
		"/restcomm/2012-04-24/ACCOUNTS.json/ACx":              "case",
		"/restcomm/2012-04-24/accounts/ACx/Calls":             "case",
		"/restcomm/2012-04-24/organizations/ORx":              "case",
		"/restcomm/2012-04-24/Accounts.json/Profiles":         "Profiles keeps .json",
		"/restcomm/2012-04-24/Accounts.JSON/ACx":              ".JSON is not .json",
		"/restcomm/2012-04-24/Accountsx/ACx":                  "prefix",
		"/restcomm/2012-04-24/Accounts/MIGRATE/ACx":           "case of migrate",
		"/restcomm/2012-04-24/Organizations.xml":              "suffix",
		"/restcomm/2012-04-24/Accounts.json%2F" + admin:       "encoded slash after .json",
		"/restcomm/2012-04-24/Accounts/" + admin + "%2F..%2F": "encoded traversal",
		// other spellings of the API root that the container maps there
		"/RESTCOMM/2012-04-24/Accounts/ACx":           "context case",
		"/Restcomm/2012-04-24/Accounts.json/ACx":      "context case",
		"/restcomm//2012-04-24/Accounts/ACx":          "doubled slash in the root",
		"//restcomm/2012-04-24/Accounts/ACx":          "leading doubled slash",
		"/restcomm/./2012-04-24/Accounts/ACx":         "dot in the root",
		"/x/../restcomm/2012-04-24/Accounts/ACx":      "dot-dot before the root",
		"/restcomm/x/../2012-04-24/Accounts/ACx":      "dot-dot in the root",
		"/%72estcomm/2012-04-24/Accounts/ACx":         "encoded context",
		"/restcomm/%32012-04-24/Accounts/ACx":         "encoded servlet path",
		"/restcomm%2F2012-04-24/Accounts/ACx":         "encoded slash in the root",
		"/restcomm;x/2012-04-24/Accounts/ACx":         "path parameter in the root",
		"/restcomm/2012-04-24;x/Accounts/ACx":         "path parameter on the servlet path",
		"/restcomm\\2012-04-24/Accounts/ACx":          "backslash in the root",
		"/restcomm/2012-04-24%2FAccounts/ACx":         "encoded slash after the root",
		"/restcomm/2012-04-24/../2012-04-24/Accounts": "dot-dot after the root",
		"/restcomm/2012-04-24/../../x":                "leaves the API through it",
	} {
		t.Run(path, func(t *testing.T) {
			_, err := Parse(path)
			assert.ErrorIs(t, err, ErrAmbiguous, why)
		})
	}
}

func TestParseNotAPI(t *testing.T) {
	for _, path := range []string{
		"/", "", "*", "/restcomm/", "/restcomm", "/restcomm/index.html",
		"/restcomm/2012-04-2", "/restcomm/2012-04-245/Accounts",
		"/restcomm-management/", "/restcomm-rvd/services/x",
		"/other/2012-04-24/Accounts", "/RESTCOMM/index.html",
		"/restcomm/../restcomm-rvd/2012-04-24/x",
	} {
		_, err := Parse(path)
		assert.ErrorIs(t, err, ErrNotAPI, path)
	}
}

func TestParseRequestChecksQueryOfJSONPaths(t *testing.T) {
	good := []string{
		"", "To=%2B15551234567", "To=+15551234567", "a=1&a=2&b", "&&x=1&", "=x", "Body=hello%20world",
		"StartTime=2012-04-24&Page=1", "x=%C3%A9", "q=a/b?c",
	}
	for _, q := range good {
		_, err := ParseRequest("/restcomm/2012-04-24/Accounts/ACx/Calls.json", q)
		assert.NoError(t, err, q)
	}
	bad := []string{
		"Body=100%25", "Body=%2541", "x=%7B", "x={y}", "%7Bx%7D=1", "x=%zz", "x=%4", "x=%FF",
		"x=%F0%9F%98%80", "x=}",
	}
	for _, q := range bad {
		_, err := ParseRequest("/restcomm/2012-04-24/Accounts/ACx/Calls.json", q)
		assert.ErrorIs(t, err, ErrAmbiguous, q)
		// not rebuilt without .json: forwarded as sent
		_, err = ParseRequest("/restcomm/2012-04-24/Accounts/ACx/Calls", q)
		assert.NoError(t, err, q)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/restcomm/2012-04-24/Accounts/ACx/Calls.json", "/restcomm/2012-04-24/Accounts%2F..",
		"/RESTCOMM/2012-04-24/x", "/restcomm/2012-04-24/Accounts.json/a%40b/SMS/Messages.json",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		// An accepted path is the canonical spelling: it starts with the
		// exact root, and every reading of it lands on the same segments.
		if s != root && s[:len(Prefix)] != Prefix {
			t.Fatalf("accepted %q outside the canonical root", s)
		}
		if !normalizedIsAPI(s) {
			t.Fatalf("accepted %q that the container would not map to the API", s)
		}
		for _, seg := range p.Segments {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("%q: segment %q", s, seg)
			}
		}
	})
}
