package accountsapi

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/render"
	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/store"
)

const wwwAuth = `Basic realm="Restcomm realm"`

// RestComm's request → response checks of authentication, the status gate and
// GET /Accounts/{id}, through the real handler and a real Redis.
func TestConformanceAuthenticationAndRead(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	up := strings.ToUpper(fixture.Token)
	rows := []struct {
		row    int
		c      call
		status int
		check  func(t *testing.T, w *http.Response, body string)
	}{
		{1, call{path: fixture.APIRoot + "/Accounts/" + fixture.SidAdmin}, 401, wantHeader("WWW-Authenticate", wwwAuth)},
		{2, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, user: "administrator@company.com", secret: "wrong"}, 401, wantHeader("WWW-Authenticate", wwwAuth)},
		{3, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, auth: "basic " + strings.TrimPrefix(fixture.Basic("administrator@company.com", fixture.Token), "Basic ")}, 401, nil},
		{4, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, user: "Default Administrator Account", secret: fixture.Token}, 401, nil},
		{5, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, user: "administrator@company.com", secret: "RestComm"}, 200, wantJSONField("sid", fixture.SidAdmin)},
		{6, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, user: fixture.SidAdmin, secret: fixture.Token}, 200, wantJSONField("sid", fixture.SidAdmin)},
		{7, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, user: fixture.SidAdmin, secret: up}, 401, nil},
		{8, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, user: "ADMINISTRATOR@company.com", secret: fixture.Token}, 401, nil},
		{9, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidSusp, as: "SUSP"}, 403, wantBody("Provided Account is not active")},
		{10, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidClosed, as: "CLOSED"}, 403, wantBody("Provided Account is not active")},
		{11, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidUninit, as: "UNINIT"}, 200, wantJSONField("status", "uninitialized")},
		{14, call{path: fixture.APIRoot + "/Accounts/" + fixture.SidAdmin, as: "ADMIN"}, 200, func(t *testing.T, r *http.Response, body string) {
			assert.Equal(t, "application/xml", r.Header.Get("Content-Type"))
			a := adminAccount(t, h)
			assert.Equal(t, string(render.AppendAccountXML(nil, a)), body)
			assert.Regexp(t, `(?s)^<RestcommResponse>\n  <Account>\n    <Sid>.*</Sid>\n    <organization>.*<FriendlyName>.*<EmailAddress>.*<Status>.*<Role>.*<Type>.*<DateCreated>.*<DateUpdated>.*<AuthToken>.*<Uri>.*<SubresourceUris>`, body)
		}},
		{15, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"}, 200, func(t *testing.T, r *http.Response, body string) {
			assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			assert.Equal(t, string(render.AppendAccountJSON(nil, adminAccount(t, h))), body)
			wantJSONField("uri", "/2012-04-24/Accounts.json/"+fixture.SidAdmin)(t, r, body)
			assert.Contains(t, body, `"calls": "/2012-04-24/Accounts/`+fixture.SidAdmin+`/Calls.json"`)
		}},
		{16, call{path: fixture.APIRoot + "/Accounts/" + fixture.SidAdmin + ".json", as: "ADMIN"}, 200, sameAs(h, fixture.APIRoot+"/Accounts.json/"+fixture.SidAdmin)},
		{17, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin + ".json", as: "ADMIN"}, 200, wantType("application/json")},
		{18, call{path: fixture.APIRoot + "/Accounts/" + fixture.SidAdmin, as: "ADMIN", header: http.Header{"Accept": {"application/json"}}}, 200, wantType("application/json")},
		{19, call{path: fixture.APIRoot + "/Accounts/" + fixture.SidAdmin, as: "ADMIN", header: http.Header{"Accept": {"*/*"}}}, 200, wantType("application/xml")},
		{20, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN", header: http.Header{"Accept": {"application/xml"}}}, 200, wantType("application/json")},
		{21, call{path: fixture.APIRoot + "/Accounts/" + fixture.SidAdmin, as: "ADMIN", header: http.Header{"Accept": {"text/plain"}}}, 406, nil},
		{22, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin + "/", as: "ADMIN"}, 200, wantJSONField("sid", fixture.SidAdmin)},
		{23, call{path: fixture.APIRoot + "/Accounts.json/administrator%40company.com", as: "ADMIN"}, 200, sameAs(h, fixture.APIRoot+"/Accounts.json/"+fixture.SidAdmin)},
		{24, call{path: fixture.APIRoot + "/Accounts.json/Default%20Administrator%20Account", as: "ADMIN"}, 200, sameAs(h, fixture.APIRoot+"/Accounts.json/"+fixture.SidAdmin)},
		{25, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"}, 200, wantHeader("Link", `<https://gw.example.com/restcomm/2012-04-24/Profiles/PRae6e420f425248d6a26948c17a9e2acf>;rel=related;title="Profiles"`)},
		{26, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"}, 200, func(t *testing.T, r *http.Response, body string) {
			wantJSONField("date_created", "Tue, 24 Apr 2012 00:00:00 +0000")(t, r, body)
			date := regexp.MustCompile(`^[A-Z][a-z]{2}, [1-9]\d? [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$`)
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(body), &m))
			assert.Regexp(t, date, m["date_created"])
			assert.Regexp(t, date, m["date_updated"])
		}},
		{27, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "ADMIN"}, 200, wantJSONField("sid", fixture.SidDev)},
		{28, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidGrand, as: "ADMIN"}, 200, wantJSONField("sid", fixture.SidGrand)},
		{29, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "CADM"}, 403, nil},
		{30, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "CADM"}, 403, nil},
		{31, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidCadm, as: "CADM"}, 200, wantJSONField("sid", fixture.SidCadm)},
		{32, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidGrand, as: "DEV"}, 403, nil},
		{33, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "DEV"}, 200, wantJSONField("sid", fixture.SidDev)},
		{34, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidGuest, as: "GUEST"}, 403, nil},
		{35, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidTopDev, as: "ADMIN"}, 403, nil},
		{36, call{path: fixture.APIRoot + "/Accounts.json/AC0000000000000000000000000000dead", as: "ADMIN"}, 404, nil},
	}
	for _, row := range rows {
		t.Run("row"+itoa(row.row), func(t *testing.T) {
			w := h.do(row.c)
			res := w.Result()
			assert.Equal(t, row.status, res.StatusCode, "body: %s", w.Body.String())
			if row.check != nil {
				row.check(t, res, w.Body.String())
			}
			assert.Empty(t, h.proxied, "Accounts routes are never forwarded")
		})
	}
}

// On a fresh Redis the seeded administrator reads itself with the shipped
// password and gets exactly RestComm's document for it (status uninitialized) — the README's
// first request.
func TestSeededAdministratorIsSpecDocument(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	w := h.do(call{path: fixture.APIRoot + "/Accounts.json/administrator%40company.com", user: "administrator@company.com", secret: "RestComm"})
	require.Equal(t, 200, w.Code, w.Body.String())
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	assert.Equal(t, readFile(t, "testdata/seeded-admin.json"), w.Body.String())

	w = h.do(call{path: fixture.APIRoot + "/Accounts/" + fixture.SidAdmin, user: fixture.SidAdmin, secret: fixture.Token})
	require.Equal(t, 200, w.Code)
	assert.Equal(t, "application/xml", w.Header().Get("Content-Type"))
	assert.Equal(t, readFile(t, "testdata/seeded-admin.xml"), w.Body.String())
}

func TestErrorPagesAndPlainGate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	w := h.do(call{path: fixture.APIRoot + "/Accounts/" + fixture.SidAdmin})
	assert.Equal(t, "text/html;charset=utf-8", w.Header().Get("Content-Type"))
	assert.Contains(t, w.Body.String(), "HTTP Status 401 - Unauthorized")

	w = h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidSusp, as: "SUSP"})
	assert.Equal(t, "text/plain", w.Header().Get("Content-Type"))
	w = h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidSusp, as: "SUSP", header: http.Header{"Accept": {"application/json"}}})
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	assert.Equal(t, "Provided Account is not active", w.Body.String())
}

func TestAmbiguousFriendlyNameIs404(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	// GUEST and TOPDEV are unrelated; give CADM's child two twins named alike
	for _, rename := range []string{fixture.SidDev, fixture.SidSusp} {
		name := "twin"
		_, err := h.store.UpdateAccount(t.Context(), nil, rename, store.AccountUpdate{FriendlyName: &name})
		require.NoError(t, err)
	}
	w := h.do(call{path: fixture.APIRoot + "/Accounts.json/twin", as: "ADMIN"})
	assert.Equal(t, 404, w.Code)
}

func TestRedisDownIs503AndRecovers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	h.redis.Stop()
	w := h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"})
	assert.Equal(t, 503, w.Code)
	assert.Contains(t, w.Body.String(), "Account store unavailable")
	assert.NotContains(t, w.Body.String(), "127.0.0.1")

	// RestComm's unauthenticated paths need no Redis at all.
	w = h.do(call{path: fixture.APIRoot + "/Logout"})
	assert.Equal(t, http.StatusTeapot, w.Code, "passed to the next handler")

	// Redis comes back (empty: these test servers keep nothing): the same
	// handler serves again, without a restart or a config reload.
	h.redis.Restart(t)
	fixture.Load(t, h.store)
	w = h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"})
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
}

func adminAccount(t *testing.T, h *harness) *store.Account {
	a, err := h.store.Account(t.Context(), fixture.SidAdmin)
	require.NoError(t, err)
	return a
}

func wantHeader(name, value string) func(*testing.T, *http.Response, string) {
	return func(t *testing.T, r *http.Response, _ string) { assert.Equal(t, value, r.Header.Get(name)) }
}

func wantBody(want string) func(*testing.T, *http.Response, string) {
	return func(t *testing.T, _ *http.Response, body string) { assert.Equal(t, want, body) }
}

func wantType(ct string) func(*testing.T, *http.Response, string) {
	return wantHeader("Content-Type", ct)
}

func wantJSONField(key, value string) func(*testing.T, *http.Response, string) {
	return func(t *testing.T, r *http.Response, body string) {
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &m), body)
		assert.Equal(t, value, m[key])
	}
}

func sameAs(h *harness, path string) func(*testing.T, *http.Response, string) {
	return func(t *testing.T, _ *http.Response, body string) {
		ref := h.do(call{path: path, as: "ADMIN"})
		assert.Equal(t, ref.Body.String(), body)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// readFile returns a test fixture; the seeded-admin documents are
// RestComm's own answers, byte for byte.
func readFile(t *testing.T, name string) string {
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return string(b)
}

// Jersey selects the method first (404, 405), then the body type (415),
// then the response type (406).
func TestMethodSelectionOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	textOnly := http.Header{"Accept": {"text/plain"}}
	w := h.do(call{method: http.MethodDelete, path: fixture.APIRoot + "/Accounts/" + fixture.SidDev, as: "ADMIN", header: textOnly})
	assert.Equal(t, 405, w.Code)
	w = h.do(call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts", as: "ADMIN",
		header: http.Header{"Accept": {"text/plain"}, "Content-Type": {"application/json"}}, body: strings.NewReader("{}")})
	assert.Equal(t, 415, w.Code)
	w = h.do(call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts", as: "ADMIN", header: textOnly,
		form: "EmailAddress=x@company.com&Password=RestComm12"})
	assert.Equal(t, 406, w.Code)
	w = h.do(call{path: fixture.APIRoot + "/Accounts/nobody", as: "GUEST", header: textOnly})
	assert.Equal(t, 406, w.Code, "406 precedes the endpoint's permission check")
}

// Even a policy that lets anonymous requests through cannot make the
// gateway serve an Accounts route without a caller.
func TestAccountsRoutesAreNeverAnonymous(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(dir+"/restcomm", 0o755))
	require.NoError(t, os.WriteFile(dir+"/restcomm/authz.rego", []byte("package restcomm.authz\ndecision := {\"allow\": true}\n"), 0o644))
	h := newHarness(t, true, withPolicyDir(t, dir, "replace"))
	for _, c := range []call{
		{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin},
		{path: fixture.APIRoot + "/Accounts.json"},
		{method: http.MethodPost, path: fixture.APIRoot + "/Accounts.json", form: "EmailAddress=anon@company.com&Password=RestComm12"},
		{method: http.MethodPut, path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, form: "FriendlyName=x"},
		{method: http.MethodPost, path: fixture.APIRoot + "/Accounts.json/migrate/" + fixture.SidDev, form: "Organization=" + fixture.SidOrg1},
		{path: fixture.APIRoot + "/Organizations.json/" + fixture.SidOrg0},
	} {
		w := h.do(c)
		assert.Equal(t, http.StatusUnauthorized, w.Code, "%s %s: %s", c.method, c.path, w.Body.String())
	}
}
