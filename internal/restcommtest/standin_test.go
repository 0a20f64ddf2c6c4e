package restcommtest

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/mariadbtest"
)

func TestStandIn(t *testing.T) {
	d := Generate(100, true)
	srv := mariadbtest.Start(t)
	srv.Database(t, "restcomm")
	db := srv.DB(t, "restcomm")
	ctx := context.Background()
	require.NoError(t, CreateSchema(ctx, db))
	require.NoError(t, d.Insert(ctx, db))
	rc := Start(t, db)

	send := func(method, path, user, secret, form string) (int, string) {
		var body io.Reader
		if form != "" {
			body = strings.NewReader(form)
		}
		req, err := http.NewRequest(method, rc.URL()+path, body)
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, secret)
		}
		if form != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	calls := func(sid string) string { return APIRoot + "Accounts/" + sid + "/Calls.json" }
	pick := func(f func(Account) bool) Account {
		for _, a := range d.Good() {
			if f(a) {
				return a
			}
		}
		t.Fatal("no such account in the dataset")
		return Account{}
	}
	tops := map[string]bool{}
	for _, a := range d.Good() {
		if a.ParentSid == "" && a.Status == "active" && a.Role == "Administrator" {
			tops[a.Sid] = true
		}
	}
	child := pick(func(a Account) bool { return a.Status == "active" && tops[a.ParentSid] && a.Role == "Developer" })
	parent := pick(func(a Account) bool { return a.Sid == child.ParentSid })
	uninit := pick(func(a Account) bool { return a.Status == "uninitialized" })
	susp := pick(func(a Account) bool { return a.Status == "suspended" })

	for _, c := range []struct {
		name, path, user, secret string
		want                     int
	}{
		{"e-mail and password", calls(child.Sid), child.Email, child.Password, 200},
		{"e-mail, case-insensitively (MariaDB)", calls(child.Sid), strings.ToUpper(child.Email), child.Token, 200},
		{"SID and token", calls(child.Sid), child.Sid, child.Token, 200},
		{"wrong secret", calls(child.Sid), child.Sid, "nope", 401},
		{"no such user", calls(child.Sid), "nobody@example.com", "x", 401},
		{"uninitialized on an Accounts path", calls(uninit.Sid), uninit.Email, uninit.Password, 200},
		{"uninitialized elsewhere", APIRoot + "Clients", uninit.Email, uninit.Password, 403},
		{"suspended", calls(susp.Sid), susp.Email, susp.Password, 403},
		{"unknown path account", calls("AC" + MD5("unknown")), child.Email, child.Password, 404},
		{"an ancestor Administrator", calls(child.Sid), parent.Email, parent.Password, 200},
		{"a Developer on its parent", calls(parent.Sid), child.Email, child.Password, 403},
		{"two accounts share the e-mail address", calls(child.Sid), "twice@example.com", "x", 500},
	} {
		code, body := send("GET", c.path, c.user, c.secret, "")
		assert.Equal(t, c.want, code, "%s: %s", c.name, body)
		if c.want == 403 && strings.Contains(c.name, "suspended") {
			assert.Equal(t, "Provided Account is not active", body)
		}
	}
	got := rc.Take()
	require.NotEmpty(t, got)
	assert.Equal(t, child.Sid, got[0].Caller)

	// Clients
	form := url.Values{"Login": {"bob"}, "Password": {"Cl1ent-pw!"}}.Encode()
	code, body := send("POST", APIRoot+"Accounts/"+child.Sid+"/Clients.json", child.Email, child.Password, form)
	require.Equal(t, 200, code, body)
	code, _ = send("POST", APIRoot+"Accounts/"+parent.Sid+"/Clients.json", parent.Email, parent.Password, form)
	assert.Equal(t, 409, code, "a login is unique in the organization")
	cs, err := rc.Clients(child.Sid)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	code, _ = send("POST", APIRoot+"Accounts/"+child.Sid+"/Clients/"+cs[0].Sid, child.Email, child.Password,
		url.Values{"Password": {"N3w-client-pw!"}}.Encode())
	assert.Equal(t, 200, code)
	cs, err = rc.Clients(child.Sid)
	require.NoError(t, err)
	assert.NotEqual(t, HA1("bob", "x", "Cl1ent-pw!"), cs[0].Password)

	// closing cascades; a closed account can not be changed
	code, body = send("PUT", APIRoot+"Accounts/"+parent.Sid, parent.Email, parent.Password, "Status=closed")
	require.Equal(t, 200, code, body)
	var status string
	require.NoError(t, db.QueryRow("SELECT status FROM restcomm_accounts WHERE sid = ?", child.Sid).Scan(&status))
	assert.Equal(t, "closed", status)
	code, _ = send("GET", calls(child.Sid), child.Email, child.Password, "")
	assert.Equal(t, 403, code, "read again from the database")
}
