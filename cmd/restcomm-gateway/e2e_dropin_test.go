package main

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
)

// The drop-in's done-when tests, with the built binary, against RestComm's
// own decisions: the stand-in RestComm looks accounts up with SQL on a
// MariaDB that has RestComm's defaults (a latin1 database, tables without a
// collation of their own), so MariaDB decides, not Go. Each check asks the
// gateway and RestComm the same question.

// dropInRow is an accounts row put into RestComm's table as RestComm (or
// an operator) left it.
type dropInRow struct {
	sid, email, name, status, token string
}

func insertRow(t *testing.T, db *sql.DB, top restcommtest.Account, r dropInRow) {
	t.Helper()
	_, err := db.Exec(`INSERT INTO restcomm_accounts VALUES (?, '2024-01-02 03:04:05', '2024-01-02 03:04:05', ?, ?, ?,
		'Full', ?, ?, 'Developer', ?, ?)`, r.sid, r.email, r.name, top.Sid, r.status, r.token, "/2012-04-24/Accounts/"+r.sid, top.Org)
	require.NoError(t, err)
}

// rowOf is the whole row of sid, as text, to see that nothing touched it.
func rowOf(t *testing.T, db *sql.DB, sid string) string {
	t.Helper()
	var cols [12]sql.NullString
	ptrs := make([]any, len(cols))
	for i := range cols {
		ptrs[i] = &cols[i]
	}
	require.NoError(t, db.QueryRow("SELECT * FROM restcomm_accounts WHERE sid = ?", sid).Scan(ptrs...))
	var b strings.Builder
	for _, c := range cols {
		b.WriteString(c.String + "|")
	}
	return b.String()
}

func TestEndToEndDropInFidelity(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway binary")
	}
	var (
		top     restcommtest.Account
		skipped = dropInRow{restcommtest.SidOf("skipped.row@acme.com"), "skipped.row@acme.com", "skipped", "weird", restcommtest.MD5("Skipped-pw-1")}
		grand   = dropInRow{restcommtest.SidOf("grand.child@acme.com"), "Grand.Child@Acme.com", "Grand Child", "active", restcommtest.MD5("Grand-pw-1")}
		dupA    = dropInRow{restcommtest.SidOf("case.dup@acme.com"), "Case.Dup@acme.com", "dup a", "active", restcommtest.MD5("Dup-a-pw-1")}
		dupB    = dropInRow{"AC" + restcommtest.MD5("the other case.dup"), "case.dup@acme.com", "dup b", "active", restcommtest.MD5("Dup-b-pw-1")}
	)
	r := startMirrorRig(t, 30, func(db *sql.DB, data *restcommtest.Dataset) {
		top = topAdministrator(data)
		for _, row := range []dropInRow{skipped, grand, dupA, dupB} {
			insertRow(t, db, top, row)
		}
	})
	db := r.maria.DB(t, "restcomm")
	gw := r.gateway(t)
	c := gw.client(false)
	r.drained(t, 10*time.Second)

	// both answer the same: the gateway on an Accounts read and on a
	// passed-through call, RestComm on the call
	same := func(t *testing.T, user, secret, sid string, want int, wantRestComm int) {
		t.Helper()
		code, body, err := send(t, c, gw, "GET", fixture.APIRoot+"/Accounts.json/"+sid, user, secret, "")
		require.NoError(t, err)
		assert.Equal(t, want, code, "gateway, Accounts: %s", body)
		code, body, err = send(t, c, gw, "GET", calls(sid), user, secret, "")
		require.NoError(t, err)
		if want == 200 {
			assert.Equal(t, wantRestComm, code, "gateway, passed through: %s", body)
		} else {
			assert.Equal(t, want, code, "gateway, passed through: %s", body)
		}
		assert.Equal(t, wantRestComm, r.rc.Status(t, calls(sid), user, secret), "RestComm itself")
	}

	t.Run("logins match as RestComm's database matches them", func(t *testing.T) {
		for _, user := range []string{"Grand.Child@Acme.com", "grand.child@acme.com", "GRAND.CHILD@ACME.COM", "grand.child@acme.com ",
			grand.sid, strings.ToUpper(grand.sid), "ac" + strings.ToLower(grand.sid[2:])} {
			t.Run(user, func(t *testing.T) { same(t, user, "Grand-pw-1", grand.sid, 200, 200) })
		}
		for _, user := range []string{" grand.child@acme.com", "grand.child@acme.com\t", "grand.child@acme.org"} {
			t.Run(user, func(t *testing.T) { same(t, user, "Grand-pw-1", grand.sid, 401, 401) })
		}
		t.Run("the path's id", func(t *testing.T) {
			code, body, err := send(t, c, gw, "GET", fixture.APIRoot+"/Accounts.json/"+url.PathEscape("GRAND.child@acme.COM"), top.Email, top.Password, "")
			require.NoError(t, err)
			assert.Equal(t, 200, code, body)
			assert.Contains(t, body, grand.sid)
		})
	})

	t.Run("accounts whose e-mails differ only in case: each by its SID, neither by e-mail", func(t *testing.T) {
		same(t, dupA.sid, "Dup-a-pw-1", dupA.sid, 200, 200)
		same(t, dupB.sid, "Dup-b-pw-1", dupB.sid, 200, 200)
		code, _, err := send(t, c, gw, "GET", calls(dupA.sid), "case.dup@acme.com", "Dup-a-pw-1", "")
		require.NoError(t, err)
		assert.Equal(t, 401, code, "the gateway refuses an ambiguous login")
		assert.Equal(t, 500, r.rc.Status(t, calls(dupA.sid), "case.dup@acme.com", "Dup-a-pw-1"), "RestComm fails on it")
	})

	t.Run("a create never overwrites a row RestComm holds", func(t *testing.T) {
		late := dropInRow{restcommtest.SidOf("late@acme.com"), "late@acme.com", "added after the import", "active", restcommtest.MD5("Late-pw-1")}
		insertRow(t, db, top, late)
		for _, row := range []dropInRow{skipped, late} {
			before := rowOf(t, db, row.sid)
			for _, email := range []string{row.email, strings.ToUpper(row.email)} {
				code, body, err := send(t, c, gw, "POST", fixture.APIRoot+"/Accounts.json", top.Email, top.Password,
					"EmailAddress="+url.QueryEscape(email)+"&Password=Taken-pw-1!")
				require.NoError(t, err)
				assert.Equal(t, http.StatusConflict, code, "%s: %s", email, body)
				assert.Equal(t, "The email address used for the new account is already in use.", body)
			}
			r.drained(t, 10*time.Second)
			assert.Equal(t, before, rowOf(t, db, row.sid), "RestComm's row untouched")
		}
	})

	t.Run("a value RestComm's schema cannot store is refused before anything is stored", func(t *testing.T) {
		code, body, err := send(t, c, gw, "POST", fixture.APIRoot+"/Accounts.json", top.Email, top.Password,
			"EmailAddress=nihongo@example.com&Password=Mirror-pw-1!&FriendlyName="+url.QueryEscape("日本語"))
		require.NoError(t, err)
		assert.Equal(t, 400, code, body)
		assert.Contains(t, body, "FriendlyName")
		code, body, err = send(t, c, gw, "POST", fixture.APIRoot+"/Accounts/"+grand.sid+".json", top.Email, top.Password,
			"FriendlyName="+url.QueryEscape("fraud 😀"))
		require.NoError(t, err)
		assert.Equal(t, 400, code, body)
		assert.Contains(t, body, "FriendlyName")
		code, _, err = send(t, c, gw, "GET", fixture.APIRoot+"/Accounts.json/nihongo@example.com", top.Email, top.Password, "")
		require.NoError(t, err)
		assert.Equal(t, 404, code, "nothing stored")
		assert.Equal(t, "Grand Child", strings.Split(rowOf(t, db, grand.sid), "|")[4])
	})

	t.Run("a close reaches RestComm even when the row cannot be written", func(t *testing.T) {
		// an account renamed before the gateway checked names against
		// RestComm's columns: its name is in Redis, not storable upstream
		email := "fraud@example.com"
		sid := restcommtest.SidOf(email)
		code, body, err := send(t, c, gw, "POST", fixture.APIRoot+"/Accounts.json", top.Email, top.Password,
			"EmailAddress="+email+"&Password=Fraud-pw-1!")
		require.NoError(t, err)
		require.Equal(t, 200, code, body)
		r.drained(t, 10*time.Second)
		require.NoError(t, r.rdb.HSet(context.Background(), "{restcomm}:acct:"+sid, "fname", "fraud 😀").Err())
		r.rc.Take()

		code, body, err = send(t, c, gw, "POST", fixture.APIRoot+"/Accounts/"+sid+".json", top.Email, top.Password, "Status=closed")
		require.NoError(t, err)
		require.Equal(t, 200, code, body)
		require.Eventually(t, func() bool { return r.status(t).Backlog == 0 }, 20*time.Second, 20*time.Millisecond)
		var closes []restcommtest.Received
		for _, rec := range r.rc.Take() {
			if rec.Method == "PUT" && strings.Contains(rec.Path, sid) {
				closes = append(closes, rec)
			}
		}
		require.Len(t, closes, 1, "RestComm was asked to close it")
		assert.Equal(t, 200, closes[0].Status)
		assert.Equal(t, "closed", strings.Split(rowOf(t, db, sid), "|")[7], "RestComm's row is closed")
		assert.Equal(t, 403, r.rc.Status(t, calls(sid), sid, restcommtest.MD5("Fraud-pw-1!")))
		out := r.run(t, 0, "mirror", "status", "--redis", r.rd.URL())
		t.Log("\n" + out)
		assert.Contains(t, out, sid, "mirror status names it")
	})

	t.Run("the SIP client follows a password change", func(t *testing.T) {
		email := "Phone.Owner@example.com"
		sid := restcommtest.SidOf(email)
		code, body, err := send(t, c, gw, "POST", fixture.APIRoot+"/Accounts.json", top.Email, top.Password,
			"EmailAddress="+email+"&Password=Phone-pw-1!&FriendlyName=desk")
		require.NoError(t, err)
		require.Equal(t, 200, code, body)
		r.drained(t, 10*time.Second)
		cs, err := r.rc.Clients(sid)
		require.NoError(t, err)
		require.Len(t, cs, 1)
		assert.Equal(t, "Phone.Owner", cs[0].Login, "the case given, as RestComm's create keeps it")
		assert.Equal(t, "desk", cs[0].FriendlyName)

		code, body, err = send(t, c, gw, "POST", fixture.APIRoot+"/Accounts/"+sid+".json", top.Email, top.Password, "Password=Phone-pw-2!")
		require.NoError(t, err)
		require.Equal(t, 200, code, body)
		r.drained(t, 10*time.Second)
		cs, err = r.rc.Clients(sid)
		require.NoError(t, err)
		require.Len(t, cs, 1)
		assert.Equal(t, restcommtest.HA1("Phone.Owner", domainOf(t, db, top.Org), "Phone-pw-2!"), cs[0].Password)
	})
}

func domainOf(t *testing.T, db *sql.DB, org string) string {
	t.Helper()
	var d string
	require.NoError(t, db.QueryRow("SELECT domain_name FROM restcomm_organizations WHERE sid = ?", org).Scan(&d))
	return d
}
