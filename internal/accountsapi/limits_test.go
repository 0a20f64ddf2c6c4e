package accountsapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
)

// redisDump is every key of the harness's Redis with its serialized value.
func redisDump(t *testing.T, h *harness) map[string]string {
	t.Helper()
	c := h.redis.Client(t)
	keys, err := c.Keys(context.Background(), "*").Result()
	require.NoError(t, err)
	out := map[string]string{}
	for _, k := range keys {
		v, err := c.Dump(context.Background(), k).Result()
		require.NoError(t, err)
		out[k] = v
	}
	return out
}

// Every field the endpoints read has a bound: one character over it is a
// 400 naming the field, and nothing is stored; at the bound it is read as
// before (and fails, if it does, for another reason).
func TestEveryFieldHasABound(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	over := func(field string) string {
		n := fieldLimits[field] + 1
		if field == "EmailAddress" {
			return strings.Repeat("a", n-len("@x.com")) + "@x.com"
		}
		return strings.Repeat("a", n)
	}
	type row struct {
		method, path string
		fields       []string // each sent alone (with what the request needs) over its limit
		base         string
	}
	rows := []row{
		{"POST", "/Accounts.json", []string{"EmailAddress", "Password", "Status", "OrganizationSid", "FriendlyName", "Role"},
			"EmailAddress=new@x.com&Password=RestComm12"},
		{"PUT", "/Accounts.json/" + fixture.SidDev, []string{"Password", "Status", "FriendlyName", "Role"}, ""},
		{"POST", "/Accounts.json/" + fixture.SidDev, []string{"Password", "Status", "FriendlyName", "Role"}, ""},
		{"POST", "/Accounts.json/migrate/" + fixture.SidDev, []string{"Organization"}, ""},
		{"GET", "/Accounts.json", []string{"OrganizationSid", "DomainName"}, ""},
		{"GET", "/Organizations.json", []string{"Status"}, ""},
	}
	before := redisDump(t, h)
	checked := map[string]bool{}
	for _, r := range rows {
		for _, f := range r.fields {
			v := url.Values{}
			if r.base != "" {
				q, err := url.ParseQuery(r.base)
				require.NoError(t, err)
				v = q
			}
			v.Set(f, over(f))
			c := call{method: r.method, path: fixture.APIRoot + r.path, as: "ADMIN"}
			if r.method == "GET" {
				c.path += "?" + v.Encode()
			} else {
				c.form = v.Encode()
			}
			w := h.do(c)
			assert.Equal(t, http.StatusBadRequest, w.Code, "%s %s %s", r.method, r.path, f)
			assert.Contains(t, w.Body.String(), fmt.Sprintf("%s can not be longer than %d characters.", f, fieldLimits[f]), "%s %s", r.path, f)
			checked[f] = true
		}
	}
	assert.Equal(t, before, redisDump(t, h), "nothing stored")
	for f := range fieldLimits {
		assert.True(t, checked[f], "%s has a bound no request checks", f)
	}

	// a 1 MB e-mail address is refused and never becomes a key
	w := h.do(post("/Accounts.json", "ADMIN", "EmailAddress="+strings.Repeat("a", 1<<20)+"@x.com&Password=RestComm12"))
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Less(t, len(w.Body.String()), 200, "the value is not echoed back")
	assert.Equal(t, before, redisDump(t, h))

	// at the bound, the e-mail address is accepted
	email := strings.Repeat("b", fieldLimits["EmailAddress"]-len("@x.com")) + "@x.com"
	w = h.do(post("/Accounts.json", "ADMIN", "EmailAddress="+email+"&Password=RestComm12&FriendlyName=ok"))
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
}

// A friendly name that is another account's e-mail address does not make
// the Admin UI's GET /Accounts.json/{email} find the squatter.
func TestEmailAddressNamesItsAccountNotASquatter(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	w := h.do(put("/Accounts.json/"+fixture.SidGrand, "GRAND", "FriendlyName="+url.QueryEscape(fixture.Users["CADM"])))
	require.Equal(t, http.StatusOK, w.Code)
	w = h.do(get("/Accounts.json/"+url.PathEscape(fixture.Users["CADM"]), "ADMIN"))
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), fixture.SidCadm)
	assert.NotContains(t, w.Body.String(), fixture.SidGrand)
}
