package caddymodule

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/importer"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// importInto imports from (a URL or a script) into st, as `accounts
// import` does.
func importInto(t *testing.T, st *store.Store, from string) *importer.Report {
	t.Helper()
	src, err := restcommdb.Read(context.Background(), from)
	require.NoError(t, err)
	rep, err := importer.Run(context.Background(), st, src, importer.Options{})
	require.NoError(t, err)
	return rep
}

// TestPassThroughToStandInRestComm runs the gateway (in Caddy, with
// reverse_proxy) in front of the stand-in RestComm on MariaDB, after
// importing RestComm's accounts: where "upstream accepts this account" is
// RestComm's own check on its own database, not a recording upstream that
// accepts everyone.
func TestPassThroughToStandInRestComm(t *testing.T) {
	d := restcommtest.StartDropIn(t, 30)
	h := newHarness(t, false)
	rep := importInto(t, h.store, d.URL)
	require.Equal(t, len(d.Data.Importable()), rep.Accounts.Imported)
	g := startLiveGateway(t, h, d.RC.Addr())

	byStatus := map[string]restcommtest.Account{}
	for _, a := range d.Data.Good() {
		if _, ok := byStatus[a.Status]; !ok && a.ParentSid != "" {
			byStatus[a.Status] = a
		}
	}
	send := func(method, path, user, secret, form string) (int, string) {
		var body io.Reader
		if form != "" {
			body = strings.NewReader(form)
		}
		req, err := http.NewRequest(method, g.url(path), body)
		require.NoError(t, err)
		req.SetBasicAuth(user, secret)
		if form != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	calls := func(sid string) string { return fixture.APIRoot + "/Accounts/" + sid + "/Calls.json" }

	t.Run("an imported account reaches RestComm and is accepted there", func(t *testing.T) {
		for _, status := range []string{"active", "uninitialized"} {
			a := byStatus[status]
			for _, secret := range []string{a.Password, a.Token} {
				code, body := send("GET", calls(a.Sid), a.Email, secret, "")
				assert.Equal(t, http.StatusOK, code, "%s account: %s", status, body)
				assert.Contains(t, body, `"calls": []`)
				got := d.RC.Take()
				require.Len(t, got, 1)
				assert.Equal(t, http.StatusOK, got[0].Status, "the stand-in accepted it")
				assert.Equal(t, a.Sid, got[0].Caller)
				assert.Equal(t, a.Sid, got[0].Header.Get("X-RestComm-Account-Sid"))
			}
		}
	})

	t.Run("inactive imported accounts are refused at the edge, as RestComm refuses them", func(t *testing.T) {
		for _, status := range []string{"suspended", "inactive", "closed"} {
			a := byStatus[status]
			code, body := send("GET", calls(a.Sid), a.Email, a.Password, "")
			assert.Equal(t, http.StatusForbidden, code, status)
			assert.Equal(t, "Provided Account is not active", body)
			assert.Empty(t, d.RC.Take(), "nothing reaches RestComm")
			assert.Equal(t, http.StatusForbidden, d.RC.Status(t, calls(a.Sid), a.Email, a.Password), "RestComm says the same")
			d.RC.Take()
		}
	})

	t.Run("an account RestComm has but the gateway did not import is refused at the edge", func(t *testing.T) {
		email := "created.after.import@example.com"
		sid := restcommtest.SidOf(email)
		db := openDB(t, d.URL)
		_, err := db.Exec(`INSERT INTO restcomm_accounts VALUES (?, '2020-01-01 00:00:00', '2020-01-01 00:00:00', ?, 'late',
			NULL, 'Full', 'active', ?, 'Developer', '/uri', ?)`, sid, email, restcommtest.MD5("Late-pw1!"), restcommtest.DefaultOrg)
		require.NoError(t, err)
		code, _ := send("GET", calls(sid), email, "Late-pw1!", "")
		assert.Equal(t, http.StatusUnauthorized, code)
		assert.Empty(t, d.RC.Take(), "nothing reaches RestComm")
		assert.Equal(t, http.StatusOK, d.RC.Status(t, calls(sid), email, "Late-pw1!"), "RestComm itself knows it")
		d.RC.Take()
	})

	t.Run("RestComm's own check stands behind the gateway's", func(t *testing.T) {
		// the password changed in RestComm only: the gateway still passes
		// the old one, RestComm refuses it (without the mirror nothing keeps them in step)
		a := byStatus["active"]
		db := openDB(t, d.URL)
		_, err := db.Exec("UPDATE restcomm_accounts SET auth_token = ? WHERE sid = ?", restcommtest.MD5("Changed-pw1!"), a.Sid)
		require.NoError(t, err)
		code, _ := send("GET", calls(a.Sid), a.Email, a.Password, "")
		assert.Equal(t, http.StatusUnauthorized, code)
		got := d.RC.Take()
		require.Len(t, got, 1)
		assert.Equal(t, http.StatusUnauthorized, got[0].Status, "refused by RestComm, not at the edge")
		_, err = db.Exec("UPDATE restcomm_accounts SET auth_token = ? WHERE sid = ?", a.Token, a.Sid)
		require.NoError(t, err)
	})

	t.Run("the Clients API through the gateway", func(t *testing.T) {
		a := byStatus["active"]
		form := url.Values{"Login": {"alice"}, "Password": {"Cl1ent-pw!"}}.Encode()
		code, body := send("POST", fixture.APIRoot+"/Accounts/"+a.Sid+"/Clients.json", a.Email, a.Password, form)
		require.Equal(t, http.StatusOK, code, body)
		assert.Contains(t, body, `"login": "alice"`)
		got := d.RC.Take()
		require.Len(t, got, 1)
		assert.Equal(t, "alice", got[0].Form.Get("Login"), "the body reached RestComm")
		clients, err := d.RC.Clients(a.Sid)
		require.NoError(t, err)
		require.Len(t, clients, 1)
		domain := map[string]string{restcommtest.DefaultOrg: "default.restcomm.com", restcommtest.OtherOrg: "acme.example.com"}[a.Org]
		assert.Equal(t, restcommtest.HA1("alice", domain, "Cl1ent-pw!"), clients[0].Password)
		code, body = send("GET", fixture.APIRoot+"/Accounts/"+a.Sid+"/Clients.json", a.Email, a.Token, "")
		assert.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, clients[0].Sid)
		d.RC.Take()
	})
}

func openDB(t *testing.T, rawURL string) *sql.DB {
	t.Helper()
	db, err := restcommdb.Open(rawURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, db.PingContext(context.Background()))
	return db
}
