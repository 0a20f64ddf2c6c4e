package accountsapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/render"
	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/store"
)

// RestComm's request → response checks for list, create, update, DELETE,
// migrate and the body limit, through the real handler and a real Redis.
// Where the gateway answers differently on purpose, the row follows
// docs/restcomm-contract.md's table of divergences.

type row struct {
	row    int
	c      call
	status int
	check  func(t *testing.T, r *http.Response, body string)
}

func runRows(t *testing.T, h *harness, rows []row) {
	t.Helper()
	for _, r := range rows {
		t.Run("row"+itoa(r.row), func(t *testing.T) {
			w := h.do(r.c)
			res := w.Result()
			assert.Equal(t, r.status, res.StatusCode, "body: %s", w.Body.String())
			if r.check != nil {
				r.check(t, res, w.Body.String())
			}
			assert.Empty(t, h.proxied, "Accounts routes are never forwarded")
		})
	}
}

const (
	sidNew      = "ACe03d996100f49c4981b762bc7dfb6360" // AC + md5("new@company.com")
	tokenR12    = "28f96b0fea1f9e33646f42026abdf305"   // md5("RestComm12")
	contentJSON = "application/json"
	contentXML  = "application/xml"
	contentPage = "text/html;charset=utf-8"
)

var fixtureChildrenOfAdmin = []string{fixture.SidSusp, fixture.SidClosed, fixture.SidDev, fixture.SidCadm, fixture.SidUninit}

// jsonList decodes a bare JSON array of accounts.
func jsonList(t *testing.T, body string) []map[string]string {
	t.Helper()
	var out []map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &out), body)
	list := make([]map[string]string, len(out))
	for i, m := range out {
		list[i] = map[string]string{}
		for k, v := range m {
			if s, ok := v.(string); ok {
				list[i][k] = s
			}
		}
	}
	return list
}

func sidsOf(list []map[string]string) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a["sid"]
	}
	return out
}

func jsonObject(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m), body)
	return m
}

func wantSids(sids ...string) func(*testing.T, *http.Response, string) {
	return func(t *testing.T, r *http.Response, body string) {
		assert.Equal(t, contentJSON, r.Header.Get("Content-Type"))
		assert.Equal(t, sids, sidsOf(jsonList(t, body)))
	}
}

// wantText is a plain-text entity in the negotiated type.
func wantText(ct, text string) func(*testing.T, *http.Response, string) {
	return func(t *testing.T, r *http.Response, body string) {
		assert.Equal(t, ct, r.Header.Get("Content-Type"))
		assert.Equal(t, text, body)
	}
}

// wantPage is an entity-less error: the HTML page with the reason.
func wantPage(reason string) func(*testing.T, *http.Response, string) {
	return func(t *testing.T, r *http.Response, body string) {
		assert.Equal(t, contentPage, r.Header.Get("Content-Type"))
		assert.Contains(t, body, "HTTP Status "+itoa(r.StatusCode))
		assert.Contains(t, body, reason)
	}
}

func all(checks ...func(*testing.T, *http.Response, string)) func(*testing.T, *http.Response, string) {
	return func(t *testing.T, r *http.Response, body string) {
		for _, c := range checks {
			c(t, r, body)
		}
	}
}

func noLink(t *testing.T, r *http.Response, _ string) {
	assert.Empty(t, r.Header.Get("Link"), "Link is sent on single GETs only")
}

// setStatusRaw changes one account's stored status without cascading, to
// build fixture states (the default admin still uninitialized, as RestComm ships it).
func setStatusRaw(t *testing.T, h *harness, sid, status string) {
	t.Helper()
	require.NoError(t, h.redis.Client(t).HSet(context.Background(), "{restcomm}:acct:"+sid, "status", status).Err())
}

func account(t *testing.T, h *harness, sid string) *store.Account {
	t.Helper()
	a, err := h.store.Account(context.Background(), sid)
	require.NoError(t, err)
	return a
}

func post(path, as, form string) call {
	return call{method: http.MethodPost, path: fixture.APIRoot + path, as: as, form: form}
}

func put(path, as, form string) call {
	return call{method: http.MethodPut, path: fixture.APIRoot + path, as: as, form: form}
}

func get(path, as string) call { return call{path: fixture.APIRoot + path, as: as} }

// Rows 37-48: GET /Accounts and its organization filters.
func TestConformanceList(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	all9 := []string{fixture.SidGuest, fixture.SidSusp, fixture.SidClosed, fixture.SidTopDev, fixture.SidGrand, fixture.SidDev, fixture.SidCadm, fixture.SidUninit, fixture.SidAdmin}
	runRows(t, h, []row{
		{37, get("/Accounts.json", "ADMIN"), 200, all(wantSids(fixtureChildrenOfAdmin...), noLink)},
		{38, get("/Accounts", "ADMIN"), 200, func(t *testing.T, r *http.Response, body string) {
			assert.Equal(t, contentXML, r.Header.Get("Content-Type"))
			kids, err := h.store.Children(context.Background(), fixture.SidAdmin)
			require.NoError(t, err)
			assert.Equal(t, string(render.AppendAccountListXML(nil, kids)), body)
			assert.True(t, strings.HasPrefix(body, "<RestcommResponse>\n  <Accounts>\n    <Account>\n      <Sid>"+fixture.SidSusp+"</Sid>"), body)
			assert.Equal(t, 5, strings.Count(body, "<Account>"))
		}},
		{39, get("/Accounts.json", "GRAND"), 200, wantBody("[]")},
		{40, get("/Accounts", "GRAND"), 200, wantBody("<RestcommResponse>\n  <Accounts/>\n</RestcommResponse>")},
		{41, get("/Accounts.json", "GUEST"), 403, wantPage("Forbidden")},
		{42, get("/Accounts.json?OrganizationSid="+fixture.SidOrg0, "ADMIN"), 200, func(t *testing.T, r *http.Response, body string) {
			sorted := append([]string(nil), all9...)
			sortStrings(sorted)
			wantSids(sorted...)(t, r, body)
		}},
		{43, get("/Accounts.json?OrganizationSid="+fixture.SidOrg0, "CADM"), 403, nil},
		{44, get("/Accounts.json?OrganizationSid=ORafbe225ad37541eba518a74248f0ac99", "ADMIN"), 200, wantBody("[]")},
		{45, get("/Accounts.json?DomainName=ORG1.RESTCOMM.COM", "ADMIN"), 200, wantBody("[]")},
		{46, get("/Accounts.json?DomainName=nope.example.com", "ADMIN"), 404, wantPage("Not Found")},
		{47, get("/Accounts.json?OrganizationSid=blabla", "ADMIN"), 400, wantText(contentJSON, "blabla is an INVALID_SID sid value.")},
	})
	t.Run("row48", func(t *testing.T) {
		h := newHarness(t, true)
		setStatusRaw(t, h, fixture.SidAdmin, "uninitialized")
		w := h.do(get("/Accounts.json?OrganizationSid="+fixture.SidOrg0, "ADMIN"))
		assert.Equal(t, 403, w.Code, w.Body.String())
		// without the filter the uninitialized admin lists its children
		w = h.do(get("/Accounts.json", "ADMIN"))
		assert.Equal(t, 200, w.Code)
	})
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// Rows 49-75: POST /Accounts.
func TestConformanceCreate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	valid := "&Password=RestComm12"
	before := time.Now().Add(-time.Second)
	runRows(t, h, []row{
		{49, post("/Accounts.json", "ADMIN", "EmailAddress=New@Company.com&Password=RestComm12"), 200, all(noLink, func(t *testing.T, r *http.Response, body string) {
			m := jsonObject(t, body)
			assert.Equal(t, sidNew, m["sid"])
			assert.Equal(t, "new@company.com", m["email_address"])
			assert.Equal(t, "new@company.com", m["friendly_name"])
			assert.Equal(t, "active", m["status"])
			assert.Equal(t, "Full", m["type"])
			assert.Equal(t, "Administrator", m["role"])
			assert.Equal(t, fixture.SidOrg0, m["organization"])
			assert.Equal(t, tokenR12, m["auth_token"])
			assert.Equal(t, m["date_created"], m["date_updated"])
			assert.Equal(t, "/2012-04-24/Accounts.json/"+sidNew, m["uri"])
			a := account(t, h, sidNew)
			assert.Equal(t, fixture.SidAdmin, a.ParentSid, "the parent is always the caller")
			assert.Equal(t, "/2012-04-24/Accounts/"+sidNew, a.URI)
			assert.False(t, a.DateCreated.Before(before.Truncate(time.Second)))
			assert.Equal(t, string(render.AppendAccountJSON(nil, a)), body)
		})},
		{50, post("/Accounts.json", "ADMIN", "EmailAddress=New@Company.com&Password=RestComm12"), 409,
			wantText(contentJSON, "The email address used for the new account is already in use.")},
		{50, post("/Accounts.json", "ADMIN", "EmailAddress=NEW@company.com&Password=RestComm12"), 409,
			wantText(contentJSON, "The email address used for the new account is already in use.")},
		{51, post("/Accounts.json", "ADMIN", "EmailAddress=administrator@company.com&Password=RestComm12"), 409,
			wantText(contentJSON, "The email address used for the new account is already in use.")},
		{52, post("/Accounts.json", "ADMIN", "Password=RestComm12"), 400, wantText(contentJSON, "Email address can not be null.")},
		{53, post("/Accounts.json", "ADMIN", "EmailAddress=x@company.com"), 400, wantText(contentJSON, "Password can not be null.")},
		{54, post("/Accounts.json", "ADMIN", "EmailAddress=notanemail"+valid), 400, wantText(contentJSON, "Provided email address notanemail is not valid")},
		{55, post("/Accounts.json", "ADMIN", "EmailAddress=my%3Faccount%40company.com&Password=RestCom1233%40"), 400,
			wantText(contentJSON, "Login my?account contains invalid character(s) ")},
		{56, post("/Accounts.json", "ADMIN", "EmailAddress=my%3Daccount%40company.com&Password=RestCom1233%40"), 400,
			wantText(contentJSON, "Login my=account contains invalid character(s) ")},
		{57, post("/Accounts.json", "ADMIN", "EmailAddress=my@account@company.com"+valid), 400,
			wantText(contentJSON, "Provided email address my@account@company.com is not valid")},
		{58, post("/Accounts.json", "ADMIN", "EmailAddress=weak@company.com&Password=1234"), 400, wantText(contentJSON, `{"message":"Password too weak"}`)},
		{59, post("/Accounts", "ADMIN", "EmailAddress=weak@company.com&Password=1234"), 400,
			wantText(contentXML, "<RestcommResponse><Message>Password too weak</Message></RestcommResponse>")},
		{60, post("/Accounts.json", "ADMIN", "EmailAddress=paren@company.com&Password=Abcdef12(x"), 400, wantText(contentJSON, `{"message":"Password too weak"}`)},
		{61, post("/Accounts.json", "ADMIN", "EmailAddress=weak@company.com&Password=1234asdf!@#"), 200, wantJSONField("email_address", "weak@company.com")},
		{62, post("/Accounts.json", "ADMIN", "EmailAddress=susp62@company.com&Status=SUSPENDED"+valid), 200, wantJSONField("status", "suspended")},
		{63, post("/Accounts.json", "ADMIN", "EmailAddress=bogus63@company.com&Status=bogus"+valid), 400, wantText(contentJSON, "bogus is not a valid account status.")},
		{64, post("/Accounts.json", "ADMIN", "EmailAddress=dev64@company.com&Role=Developer"+valid), 200, wantJSONField("role", "Developer")},
		{65, post("/Accounts.json", "DEV", "EmailAddress=d1@company.com&Password=RestComm12&Role=Administrator"), 200, wantJSONField("role", "Developer")},
		{66, post("/Accounts.json", "GRAND", "EmailAddress=deep@company.com"+valid), 400, wantText(contentJSON, `{"message":"This account is not allowed to have sub-accounts"}`)},
		{67, post("/Accounts.json", "GUEST", "EmailAddress=g67@company.com"+valid), 403, wantPage("Forbidden")},
		{68, post("/Accounts.json", "DEV", "EmailAddress=d68@company.com&OrganizationSid="+fixture.SidOrg1+valid), 403, nil},
		{69, post("/Accounts.json", "DEV", "EmailAddress=d69@company.com&OrganizationSid="+fixture.SidOrg0+valid), 200, wantJSONField("organization", fixture.SidOrg0)},
		{70, post("/Accounts.json", "ADMIN", "EmailAddress=o70@company.com&OrganizationSid="+fixture.SidOrg1+valid), 200, wantJSONField("organization", fixture.SidOrg1)},
		{71, post("/Accounts.json", "ADMIN", "EmailAddress=o71@company.com&OrganizationSid=blabla"+valid), 400, wantText(contentJSON, "blabla is an INVALID_SID sid value.")},
		{72, post("/Accounts.json", "ADMIN", "EmailAddress=o72@company.com&OrganizationSid=ORafbe225ad37541eba518a74248f01234"+valid), 400,
			wantText(contentJSON, "provided OrganizationSid does not exist")},
		{74, call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts.json", as: "ADMIN", form: "EmailAddress=j74@company.com" + valid,
			header: http.Header{"Content-Type": {"application/json"}}}, 415, wantPage("Unsupported Media Type")},
		{75, post("/Accounts", "ADMIN", "EmailAddress=xml75@company.com"+valid), 200, func(t *testing.T, r *http.Response, body string) {
			sid := "AC" + md5hex("xml75@company.com")
			assert.Equal(t, contentXML, r.Header.Get("Content-Type"))
			assert.True(t, strings.HasPrefix(body, "<RestcommResponse>\n  <Account>\n    <Sid>"+sid+"</Sid>"), body)
			assert.Contains(t, body, "<Uri>/2012-04-24/Accounts/"+sid+"</Uri>")
			assert.Equal(t, string(render.AppendAccountXML(nil, account(t, h, sid))), body)
		}},
	})

	t.Run("nothing is written by a refused create", func(t *testing.T) {
		for _, email := range []string{"bogus63@company.com", "deep@company.com", "g67@company.com", "d68@company.com",
			"o71@company.com", "o72@company.com", "j74@company.com", "paren@company.com"} {
			taken, err := h.store.AccountTaken(context.Background(), "AC"+md5hex(email), email)
			require.NoError(t, err)
			assert.False(t, taken, email)
		}
	})
	t.Run("the ORG1 account is listed by domain", func(t *testing.T) {
		w := h.do(get("/Accounts.json?DomainName=org1.restcomm.com", "ADMIN"))
		require.Equal(t, 200, w.Code)
		assert.Equal(t, []string{"AC" + md5hex("o70@company.com")}, sidsOf(jsonList(t, w.Body.String())))
	})
	t.Run("row73", func(t *testing.T) {
		h := newHarness(t, true)
		setStatusRaw(t, h, fixture.SidAdmin, "uninitialized")
		w := h.do(post("/Accounts.json", "ADMIN", "EmailAddress=u73@company.com"+valid))
		assert.Equal(t, 403, w.Code, w.Body.String())
		// the duplicate check comes first (409 before 403)
		w = h.do(post("/Accounts.json", "ADMIN", "EmailAddress=child@company.com"+valid))
		assert.Equal(t, 409, w.Code, w.Body.String())
	})
}

// Rows 76-96: POST and PUT /Accounts/{id}.
func TestConformanceUpdate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	var created time.Time
	runRows(t, h, []row{
		{76, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "FriendlyName=updated2"), 200, all(noLink, func(t *testing.T, r *http.Response, body string) {
			m := jsonObject(t, body)
			assert.Equal(t, "updated2", m["friendly_name"])
			assert.Equal(t, m["date_created"], m["date_updated"], "RestComm shows the update time as DateCreated")
			updated, err := time.Parse("Mon, 2 Jan 2006 15:04:05 -0700", m["date_updated"].(string))
			require.NoError(t, err)
			assert.WithinDuration(t, time.Now(), updated, 5*time.Second)
			created = account(t, h, fixture.SidDev).DateCreated
		})},
		{76, get("/Accounts.json/"+fixture.SidDev, "ADMIN"), 200, func(t *testing.T, r *http.Response, body string) {
			assert.Equal(t, "Tue, 24 Apr 2012 00:00:00 +0000", jsonObject(t, body)["date_created"])
			assert.Equal(t, time.Date(2012, 4, 24, 0, 0, 0, 0, time.UTC), created)
		}},
		{77, post("/Accounts.json/"+fixture.SidDev, "ADMIN", "FriendlyName=x"), 200, wantJSONField("friendly_name", "x")},
		{79, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "Password=1234"), 400, all(wantPage("Password too weak"), func(t *testing.T, _ *http.Response, _ string) {
			assert.Equal(t, fixture.Token, account(t, h, fixture.SidDev).AuthToken, "account unchanged")
		})},
		{80, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "AuthToken=00000000000000000000000000000000&Auth_Token=11111111111111111111111111111111&EmailAddress=z@z.com"), 200,
			all(wantJSONField("auth_token", fixture.Token), wantJSONField("email_address", "child@company.com"))},
		{81, put("/Accounts.json/"+fixture.SidDev, "DEV", "Role=Administrator"), 403, wantPage("Only Administrator allowed")},
		// RestComm stores any role text (200, role Anything); the gateway
		// gives only roles its policy knows (docs/restcomm-contract.md, divergences)
		{82, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "Role=Anything"), 403, all(wantPage("Role not allowed"), func(t *testing.T, _ *http.Response, _ string) {
			assert.Equal(t, "Developer", account(t, h, fixture.SidDev).Role, "account unchanged")
		})},
		{83, put("/Accounts.json/"+fixture.SidAdmin, "CADM", "FriendlyName=x"), 403, wantPage("Forbidden")},
		{84, put("/Accounts.json/"+fixture.SidDev, "CADM", "FriendlyName=x"), 403, nil},
		{85, put("/Accounts.json/AC0000000000000000000000000000dead", "ADMIN", "FriendlyName=x"), 404, wantPage("Not Found")},
		{88, put("/Accounts.json/"+fixture.SidCadm, "ADMIN", "Status=ACTIVE"), 200, wantJSONField("status", "active")},
		{89, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "Status=bogus"), 400, wantText(contentJSON, "bogus is not a valid account status.")},
		{92, put("/Accounts.json/"+fixture.SidUninit, "ADMIN", "Password=RestComm12"), 200, wantJSONField("status", "active")},
		{96, call{method: http.MethodPut, path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "ADMIN"}, 415, wantPage("Unsupported Media Type")},
	})

	t.Run("row78", func(t *testing.T) {
		h := newHarness(t, true)
		w := h.do(put("/Accounts.json/child%40company.com", "ADMIN", "Password=Restcomm2"))
		require.Equal(t, 200, w.Code, w.Body.String())
		newToken := "84e9ecfa8b686f6e6869fa27778ed274"
		assert.Equal(t, newToken, jsonObject(t, w.Body.String())["auth_token"])
		self := fixture.APIRoot + "/Accounts.json/" + fixture.SidDev
		assert.Equal(t, 401, h.do(call{path: self, as: "DEV"}).Code, "the old token stops working")
		assert.Equal(t, 200, h.do(call{path: self, user: "child@company.com", secret: "Restcomm2"}).Code)
		assert.Equal(t, 200, h.do(call{path: self, user: "child@company.com", secret: newToken}).Code)
	})
	t.Run("rows86-91", func(t *testing.T) {
		h := newHarness(t, true)
		runRows(t, h, []row{
			{86, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "Status=suspended"), 200, func(t *testing.T, _ *http.Response, body string) {
				assert.Equal(t, "suspended", jsonObject(t, body)["status"])
				assert.Equal(t, "suspended", account(t, h, fixture.SidGrand).Status)
				w := h.do(get("/Accounts.json/"+fixture.SidGrand, "GRAND"))
				assert.Equal(t, 403, w.Code)
				assert.Equal(t, "Provided Account is not active", w.Body.String())
			}},
			{87, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "Status=active"), 200, func(t *testing.T, _ *http.Response, body string) {
				assert.Equal(t, "active", jsonObject(t, body)["status"])
				assert.Equal(t, "active", account(t, h, fixture.SidGrand).Status)
				assert.Equal(t, 200, h.do(get("/Accounts.json/"+fixture.SidGrand, "GRAND")).Code)
			}},
			{90, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "Status=closed"), 200, func(t *testing.T, _ *http.Response, body string) {
				assert.Equal(t, "closed", jsonObject(t, body)["status"])
				assert.Equal(t, "closed", account(t, h, fixture.SidGrand).Status)
				w := h.do(get("/Accounts.json/"+fixture.SidDev, "ADMIN"))
				assert.Equal(t, 200, w.Code)
				assert.Equal(t, "closed", jsonObject(t, w.Body.String())["status"])
				assert.Equal(t, 403, h.do(get("/Accounts.json/"+fixture.SidDev, "DEV")).Code)
				w = h.do(get("/Accounts.json", "ADMIN"))
				assert.Contains(t, sidsOf(jsonList(t, w.Body.String())), fixture.SidDev, "closed accounts stay listed")
			}},
			{91, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "FriendlyName=x"), 400, wantPage("Account is closed")},
			{91, put("/Accounts.json/"+fixture.SidDev, "ADMIN", "Status=active"), 400, wantPage("Account is closed")},
		})
		assert.Equal(t, "closed", account(t, h, fixture.SidDev).Status, "closed is terminal")
	})
	t.Run("row93", func(t *testing.T) {
		h := newHarness(t, true)
		w := h.do(put("/Accounts.json/"+fixture.SidUninit, "ADMIN", "Password=RestComm12&Status=suspended"))
		require.Equal(t, 200, w.Code, w.Body.String())
		assert.Equal(t, "active", jsonObject(t, w.Body.String())["status"])
	})
	t.Run("row94", func(t *testing.T) {
		h := newHarness(t, true)
		setStatusRaw(t, h, fixture.SidAdmin, "uninitialized")
		w := h.do(call{method: http.MethodPut, path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin,
			user: "administrator@company.com", secret: "RestComm", form: "Password=RestComm12"})
		require.Equal(t, 200, w.Code, w.Body.String())
		assert.Equal(t, "active", jsonObject(t, w.Body.String())["status"])
		for _, sid := range []string{fixture.SidDev, fixture.SidCadm, fixture.SidGrand, fixture.SidSusp, fixture.SidClosed, fixture.SidUninit} {
			assert.Equal(t, "active", account(t, h, sid).Status, sid)
		}
		assert.Equal(t, "active", account(t, h, fixture.SidGuest).Status, "unrelated top-level account untouched")
	})
	t.Run("row95", func(t *testing.T) {
		h := newHarness(t, true)
		w := h.do(put("/Accounts.json/"+fixture.SidDev, "DEV", "Status=closed"))
		require.Equal(t, 200, w.Code, w.Body.String())
		assert.Equal(t, "closed", account(t, h, fixture.SidDev).Status)
		assert.Equal(t, "closed", account(t, h, fixture.SidGrand).Status)
	})
}

// Rows 97-101: DELETE is 405 after authentication.
func TestConformanceDelete(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	del := func(path, as string) call {
		return call{method: http.MethodDelete, path: fixture.APIRoot + path, as: as}
	}
	runRows(t, h, []row{
		{97, del("/Accounts/"+fixture.SidDev, "ADMIN"), 405, all(wantHeader("Allow", "HEAD,POST,GET,OPTIONS,PUT"), wantPage("Method Not Allowed"))},
		{98, del("/Accounts.json/"+fixture.SidDev+".json", "ADMIN"), 405, wantHeader("Allow", "HEAD,POST,GET,OPTIONS,PUT")},
		{99, del("/Accounts.json/AC0000000000000000000000000000dead", "ADMIN"), 405, wantHeader("Allow", "HEAD,POST,GET,OPTIONS,PUT")},
		{100, del("/Accounts/"+fixture.SidDev, ""), 401, wantHeader("WWW-Authenticate", wwwAuth)},
		{101, del("/Accounts", "ADMIN"), 405, wantHeader("Allow", "HEAD,POST,GET,OPTIONS")},
		{101, put("/Accounts", "ADMIN", "x=y"), 405, wantHeader("Allow", "HEAD,POST,GET,OPTIONS")},
	})
	assert.Equal(t, "active", account(t, h, fixture.SidDev).Status)
	t.Run("a suspended caller gets 403, an uninitialized one the 405", func(t *testing.T) {
		assert.Equal(t, 403, h.do(del("/Accounts/"+fixture.SidSusp, "SUSP")).Code)
		assert.Equal(t, 405, h.do(del("/Accounts/"+fixture.SidUninit, "UNINIT")).Code)
	})
}

// Rows 102-113: POST /Accounts/migrate/{id}.
func TestConformanceMigrate(t *testing.T) {
	t.Parallel()
	migrate := func(id, as, form string) call {
		return call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts.json/migrate/" + id, as: as, form: form,
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}
	}
	t.Run("row102", func(t *testing.T) {
		h := newHarness(t, true)
		w := h.do(migrate(fixture.SidDev, "ADMIN", "Organization="+fixture.SidOrg1))
		require.Equal(t, 200, w.Code, w.Body.String())
		m := jsonObject(t, w.Body.String())
		assert.Equal(t, fixture.SidOrg1, m["organization"])
		assert.Equal(t, "Tue, 24 Apr 2012 00:00:00 +0000", m["date_created"], "DateCreated preserved")
		assert.Empty(t, w.Header().Get("Link"))
		w = h.do(get("/Accounts.json/"+fixture.SidGrand, "ADMIN"))
		assert.Equal(t, fixture.SidOrg1, jsonObject(t, w.Body.String())["organization"], "the direct child moves too")
		w = h.do(get("/Accounts.json?OrganizationSid="+fixture.SidOrg1, "ADMIN"))
		assert.Equal(t, []string{fixture.SidGrand, fixture.SidDev}, sidsOf(jsonList(t, w.Body.String())))
	})
	t.Run("row103", func(t *testing.T) {
		h := newHarness(t, true)
		w := h.do(migrate(fixture.SidDev, "ADMIN", "Organization=org1.restcomm.com"))
		require.Equal(t, 200, w.Code, w.Body.String())
		assert.Equal(t, fixture.SidOrg1, jsonObject(t, w.Body.String())["organization"])
	})
	h := newHarness(t, true)
	runRows(t, h, []row{
		{104, migrate(fixture.SidDev, "ADMIN", "x=y"), 412, wantText(contentJSON, "Missing Organization SID or Domain Name")},
		{105, migrate(fixture.SidDev, "ADMIN", "Organization=ORafbe225ad37541eba518a74248f0ac99"), 412, wantText(contentJSON, "Missing Organization SID or Domain Name")},
		{106, migrate("AC0000000000000000000000000000dead", "ADMIN", "Organization="+fixture.SidOrg1), 404, wantPage("Not Found")},
		{107, migrate(fixture.SidGrand, "ADMIN", "Organization="+fixture.SidOrg1), 400, all(wantPage("Bad Request"), func(t *testing.T, _ *http.Response, _ string) {
			assert.Equal(t, fixture.SidOrg0, account(t, h, fixture.SidGrand).OrganizationSid, "GRAND unchanged")
		})},
		{108, migrate(fixture.SidDev, "ADMIN", "Organization="+fixture.SidOrg0), 400, wantText(contentJSON, "Account already in the requested Organization")},
		{109, migrate(fixture.SidDev, "DEV", "Organization="+fixture.SidOrg1), 403, wantPage("Forbidden")},
		{109, migrate(fixture.SidDev, "CADM", "Organization="+fixture.SidOrg1), 403, nil},
		{111, migrate(fixture.SidDev, "GUEST", "Organization="+fixture.SidOrg1), 400, wantPage("Bad Request")},
		{112, migrate(fixture.SidAdmin, "ADMIN", "Organization="+fixture.SidOrg1), 400, wantPage("Bad Request")},
		{113, call{path: fixture.APIRoot + "/Accounts.json/migrate/" + fixture.SidDev, as: "ADMIN"}, 405, wantHeader("Allow", "POST,OPTIONS")},
		{113, call{method: http.MethodPut, path: fixture.APIRoot + "/Accounts/migrate/" + fixture.SidDev, as: "ADMIN", form: "Organization=" + fixture.SidOrg1}, 405, wantHeader("Allow", "POST,OPTIONS")},
	})
	assert.Equal(t, fixture.SidOrg0, account(t, h, fixture.SidDev).OrganizationSid)
	assert.Equal(t, fixture.SidOrg0, account(t, h, fixture.SidAdmin).OrganizationSid)
	t.Run("row110", func(t *testing.T) {
		h := newHarness(t, true)
		setStatusRaw(t, h, fixture.SidAdmin, "uninitialized")
		w := h.do(migrate(fixture.SidDev, "ADMIN", "Organization="+fixture.SidOrg1))
		assert.Equal(t, 403, w.Code, w.Body.String())
	})
}

// Row 114: the body limit, checked from Content-Length after
// authentication.
func TestConformanceBodyLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	r := newRequest(http.MethodPost, fixture.APIRoot+"/Accounts.json", strings.NewReader("EmailAddress=big@company.com&Password=RestComm12"))
	r.Header.Set("Content-Type", typeForm)
	r.Header.Set("Authorization", fixture.Basic(fixture.Users["ADMIN"], fixture.Token))
	r.ContentLength = 10_000_001
	w := h.serve(r)
	assert.Equal(t, 413, w.Code)
	assert.Contains(t, w.Body.String(), "Length larger than 10000000")
	taken, err := h.store.AccountTaken(context.Background(), "AC"+md5hex("big@company.com"), "big@company.com")
	require.NoError(t, err)
	assert.False(t, taken)

	r = newRequest(http.MethodPost, fixture.APIRoot+"/Accounts.json", strings.NewReader("x"))
	r.ContentLength = 10_000_001
	assert.Equal(t, 401, h.serve(r).Code, "authentication comes first")
}

// The admin UI's first login on a fresh Redis (RestComm's Admin UI first-login flow): read the seeded,
// uninitialized administrator by e-mail with email:md5(password), set a new
// password with sid:auth_token, and from then on only the new one works.
func TestFirstLoginFlow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	w := h.do(call{path: fixture.APIRoot + "/Accounts.json/administrator%40company.com", user: "administrator@company.com", secret: fixture.Token})
	require.Equal(t, 200, w.Code, w.Body.String())
	assert.Equal(t, "uninitialized", jsonObject(t, w.Body.String())["status"])

	w = h.do(call{method: http.MethodPut, path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, user: fixture.SidAdmin, secret: fixture.Token,
		form: "Password=NewPassw0rd!"})
	require.Equal(t, 200, w.Code, w.Body.String())
	m := jsonObject(t, w.Body.String())
	assert.Equal(t, "active", m["status"])
	newToken := md5hex("NewPassw0rd!")
	assert.Equal(t, newToken, m["auth_token"])

	self := fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin
	assert.Equal(t, 401, h.do(call{path: self, user: "administrator@company.com", secret: fixture.Token}).Code)
	assert.Equal(t, 200, h.do(call{path: self, user: "administrator@company.com", secret: newToken}).Code)
	// now a Super Admin: it may list organizations and create accounts
	assert.Equal(t, 200, h.do(call{path: fixture.APIRoot + "/Organizations.json", user: fixture.SidAdmin, secret: newToken}).Code)
	w = h.do(call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts.json", user: fixture.SidAdmin, secret: newToken,
		form: "EmailAddress=first@company.com&Password=RestComm12"})
	assert.Equal(t, 200, w.Code, w.Body.String())
}
