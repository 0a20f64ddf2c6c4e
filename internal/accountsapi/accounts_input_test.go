package accountsapi

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
)

// HEAD is GET without a body; OPTIONS answers 200 with Allow, for every
// template the gateway serves.
func TestHeadAndOptions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	for _, path := range []string{"/Accounts.json/" + fixture.SidAdmin, "/Accounts.json", "/Accounts", "/Organizations.json/" + fixture.SidOrg0} {
		g := h.do(get(path, "ADMIN"))
		require.Equal(t, 200, g.Code, path)
		hd := h.do(call{method: http.MethodHead, path: fixture.APIRoot + path, as: "ADMIN"})
		assert.Equal(t, 200, hd.Code, path)
		assert.Equal(t, strconv.Itoa(g.Body.Len()), hd.Header().Get("Content-Length"), path)
		assert.Equal(t, g.Header().Get("Content-Type"), hd.Header().Get("Content-Type"), path)
	}
	for path, allow := range map[string]string{
		"/Accounts":                           "HEAD,POST,GET,OPTIONS",
		"/Accounts.json/" + fixture.SidDev:    "HEAD,POST,GET,OPTIONS,PUT",
		"/Accounts/migrate/" + fixture.SidDev: "POST,OPTIONS",
		"/Organizations.json":                 "HEAD,GET,OPTIONS",
		"/Organizations/" + fixture.SidOrg0:   "HEAD,GET,OPTIONS,PUT",
	} {
		w := h.do(call{method: http.MethodOptions, path: fixture.APIRoot + path, as: "ADMIN"})
		assert.Equal(t, 200, w.Code, path)
		assert.Equal(t, allow, w.Header().Get("Allow"), path)
	}
	assert.Empty(t, h.proxied)
}

// Content negotiation and body type come before the endpoint's checks.
func TestNegotiationAndBodyType(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	runRows(t, h, []row{
		{0, call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts", as: "ADMIN", form: "EmailAddress=n1@company.com&Password=RestComm12",
			header: http.Header{"Accept": {"text/plain"}}}, 406, nil},
		{0, call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts", as: "GUEST", form: "EmailAddress=n2@company.com",
			header: http.Header{"Content-Type": {"text/plain"}}}, 415, nil}, // 415 before the permission check
		{0, call{method: http.MethodPut, path: fixture.APIRoot + "/Accounts/" + fixture.SidDev, as: "ADMIN", form: "FriendlyName=a",
			header: http.Header{"Accept": {"application/json"}}}, 200, wantJSONField("friendly_name", "a")},
		{0, call{method: http.MethodPut, path: fixture.APIRoot + "/Accounts/" + fixture.SidDev, as: "ADMIN", form: "FriendlyName=b",
			header: http.Header{"Content-Type": {"Application/X-WWW-Form-URLEncoded; charset=UTF-8"}}}, 200, nil},
		{0, call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "GUEST", header: http.Header{"Accept": {"text/plain"}}}, 403, nil},
		{0, call{path: fixture.APIRoot + "/Accounts/" + fixture.SidDev, as: "GUEST", header: http.Header{"Accept": {"text/plain"}}}, 406, nil},
		{0, post("/Accounts.json", "ADMIN", "EmailAddress=status%40company.com&Password=RestComm12&Status="), 400,
			wantText(contentJSON, " is not a valid account status.")},
		// no Content-Type: Jersey finds no reader when it reads the entity,
		// after @RolesAllowed (migrate) but before the method's permission check
		{0, call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts.json", as: "GUEST", body: strings.NewReader("x=y")}, 415, nil},
		{0, call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts.json/migrate/" + fixture.SidGrand, as: "DEV", body: strings.NewReader("x=y")}, 403, nil},
		{0, call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts.json/migrate/" + fixture.SidGrand, as: "DEV", body: strings.NewReader("x=y"),
			header: http.Header{"Content-Type": {"text/plain"}}}, 415, nil},
		{0, call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts.json/migrate/" + fixture.SidDev, as: "ADMIN", body: strings.NewReader("Organization=" + fixture.SidOrg1)}, 415, nil},
	})
}

// The form is read as Jersey reads it: the first of repeated keys, a key
// without '=' is present and empty, '+' is a space, the charset of the
// Content-Type is honoured, invalid bytes become U+FFFD.
func TestFormReading(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	runRows(t, h, []row{
		{0, post("/Accounts.json", "ADMIN", "EmailAddress=first%40company.com&EmailAddress=second%40company.com&Password=RestComm12&=ignored"), 200,
			wantJSONField("email_address", "first@company.com")},
		{0, post("/Accounts.json", "ADMIN", "EmailAddress&Password=RestComm12"), 400, wantText(contentJSON, "Provided email address  is not valid")},
		{0, post("/Accounts.json", "ADMIN", "EmailAddress=plus%40company.com&Password=RestComm12&FriendlyName=a+b%20c"), 200,
			wantJSONField("friendly_name", "a b c")},
		{0, call{method: http.MethodPut, path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "ADMIN", form: "FriendlyName=%E9t%E9",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=ISO-8859-1"}}}, 200, wantJSONField("friendly_name", "été")},
		{0, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "FriendlyName=%FF%FEok"), 200, wantJSONField("friendly_name", "\ufffd\ufffdok")},
		{0, call{method: http.MethodPut, path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "ADMIN", body: strings.NewReader("FriendlyName=raw\xff"),
			header: http.Header{"Content-Type": {typeForm}}}, 200, wantJSONField("friendly_name", "raw\ufffd")},
		{0, call{method: http.MethodPut, path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "ADMIN", form: "FriendlyName=x",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=klingon"}}}, 415, nil},
		{0, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "FriendlyName="), 200, wantJSONField("friendly_name", "")},
		{0, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "FriendlyName="+strings.Repeat("x", 64)), 200, nil},
		{0, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "FriendlyName="+strings.Repeat("é", 64)), 200, nil}, // 64 characters, 128 bytes
		{0, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "FriendlyName="+strings.Repeat("x", 65)), 400,
			wantText(contentJSON, "FriendlyName can not be longer than 64 characters.")},
		{0, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "Role="+strings.Repeat("r", 65)), 400, wantText(contentJSON, "Role can not be longer than 64 characters.")},
		{0, post("/Accounts.json", "ADMIN", "EmailAddress=long%40company.com&Password=RestComm12&FriendlyName="+strings.Repeat("x", 65)), 400,
			wantText(contentJSON, "FriendlyName can not be longer than 64 characters.")},
		{0, post("/Accounts.json", "ADMIN", "EmailAddress="+strings.Repeat("l", 60)+"%40company.com&Password=RestComm12"), 400,
			wantText(contentJSON, "FriendlyName can not be longer than 64 characters.")}, // the default name is the e-mail
		{0, post("/Accounts.json", "ADMIN", "EmailAddress=role%40company.com&Password=RestComm12&Role="+strings.Repeat("r", 65)), 400,
			wantText(contentJSON, "Role can not be longer than 64 characters.")},
	})
	a := account(t, h, fixture.SidDev)
	assert.Equal(t, strings.Repeat("é", 64), a.FriendlyName, "nothing stored by the refused updates")
	for _, email := range []string{"long@company.com", "role@company.com", strings.Repeat("l", 60) + "@company.com"} {
		taken, err := h.store.AccountTaken(context.Background(), "AC"+md5hex(email), email)
		require.NoError(t, err)
		assert.False(t, taken, email)
	}
}

// Bad input never gives a 5xx or a panic, and never writes anything.
func TestBadInputIsRefusedCleanly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	bodies := []string{
		"EmailAddress=%zz&Password=RestComm12",
		"EmailAddress=a%40b.com&Password=%",
		"EmailAddress=a%40b.com&Password=%4",
		"EmailAddress=a%40b.com&Password=%-1x",
		"%",
		"&&&",
		"=",
		"EmailAddress=%00%01%02@x.com&Password=RestComm12",
		"EmailAddress=(comment)&Password=RestComm12",
		"EmailAddress=a%28b@x.com&Password=RestComm12",
		"EmailAddress=%22quoted%20local%22%40x.com&Password=RestComm12",
		"EmailAddress=%3C%3E&Password=RestComm12",
		"EmailAddress=Name%20%3Cname@x.com%3E&Password=RestComm12",
		"EmailAddress=a@%5B1.2.3.4%5D&Password=RestComm12",
		"EmailAddress=grp:a@b.com;&Password=RestComm12",
		"EmailAddress=a@b.com,c@d.com&Password=RestComm12",
		"EmailAddress=%E2%82&Password=RestComm12",
		"EmailAddress=x@y.com&Password=" + strings.Repeat("\\", 100),
		"EmailAddress=x@y.com&Password=" + strings.Repeat("%C3%A9", 5000),
		"EmailAddress=x@y.com&Password=RestComm12&OrganizationSid=ID" + strings.Repeat("a", 32) + "-CA" + strings.Repeat("b", 32),
		"EmailAddress=x@y.com&Password=RestComm12&FriendlyName=" + strings.Repeat("%F0%9F%98%80", 40),
		"\xff\xfe\x00",
	}
	for i, b := range bodies {
		for _, target := range []string{"/Accounts.json", "/Accounts.json/" + fixture.SidDev, "/Accounts.json/migrate/" + fixture.SidDev} {
			r := formRequest(http.MethodPost, target, fixture.Users["ADMIN"], fixture.Token, b)
			w := h.serve(r)
			assert.Less(t, w.Code, 500, "body %d to %s: %s", i, target, w.Body.String())
		}
	}
	for _, q := range []string{"OrganizationSid=%zz", "DomainName=%", "OrganizationSid={x}", "DomainName=a}", "OrganizationSid=%7Bx%7D"} {
		w := h.do(get("/Accounts.json?"+q, "ADMIN"))
		assert.Equal(t, 400, w.Code, q)
		w = h.do(get("/Organizations.json?Status="+strings.TrimPrefix(strings.TrimPrefix(q, "OrganizationSid="), "DomainName="), "ADMIN"))
		assert.Equal(t, 400, w.Code, q)
	}
	// without .json, braces are just characters
	w := h.do(get("/Accounts?DomainName=%7Bx%7D", "ADMIN"))
	assert.Equal(t, 404, w.Code)
	assert.Zero(t, h.forwarded.Load())
	assert.Empty(t, h.proxied)
}

// A body over the limit is 413 whatever Content-Length says: chunked, or a
// Content-Length that lies. Nothing is written.
func TestOversizedBodiesAre413(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	big := func() io.Reader {
		return io.MultiReader(strings.NewReader("EmailAddress=huge%40company.com&Password=RestComm12&FriendlyName="),
			io.LimitReader(zeros{}, MaxBodyLength))
	}
	for name, cl := range map[string]int64{"chunked": -1, "lying": 100} {
		t.Run(name, func(t *testing.T) {
			r := newRequest(http.MethodPost, fixture.APIRoot+"/Accounts.json", big())
			r.Header.Set("Content-Type", typeForm)
			r.Header.Set("Authorization", fixture.Basic(fixture.Users["ADMIN"], fixture.Token))
			r.ContentLength = cl
			w := h.serve(r)
			assert.Equal(t, 413, w.Code)
			assert.Contains(t, w.Body.String(), "Length larger than 10000000")

			r = newRequest(http.MethodPut, fixture.APIRoot+"/Accounts.json/"+fixture.SidDev, io.MultiReader(strings.NewReader("FriendlyName="), io.LimitReader(zeros{}, MaxBodyLength)))
			r.Header.Set("Content-Type", typeForm)
			r.Header.Set("Authorization", fixture.Basic(fixture.Users["ADMIN"], fixture.Token))
			r.ContentLength = cl
			assert.Equal(t, 413, h.serve(r).Code)
		})
	}
	taken, err := h.store.AccountTaken(context.Background(), "AC"+md5hex("huge@company.com"), "huge@company.com")
	require.NoError(t, err)
	assert.False(t, taken)
	assert.Equal(t, "child@company.com", account(t, h, fixture.SidDev).FriendlyName)

	// exactly the limit is fine (and then refused for the name's width)
	body := "FriendlyName=" + strings.Repeat("x", MaxBodyLength-len("FriendlyName="))
	r := formRequest(http.MethodPut, "/Accounts.json/"+fixture.SidDev, fixture.Users["ADMIN"], fixture.Token, body)
	assert.Equal(t, 400, h.serve(r).Code)
}

// zeros is an endless stream of '0'.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}
