package restcommtest

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/mariadbtest"
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

// standIn is a stand-in RestComm on a fresh MariaDB holding a small dataset.
func standIn(t *testing.T) (*StandIn, *sql.DB, *Dataset) {
	t.Helper()
	d := Generate(30, false)
	srv := mariadbtest.Start(t)
	srv.Database(t, "restcomm")
	db := srv.DB(t, "restcomm")
	require.NoError(t, CreateSchema(t.Context(), db))
	require.NoError(t, d.Insert(t.Context(), db))
	return Start(t, db), db, d
}

// do sends one request to the stand-in, with Basic credentials when user
// is set and a form body when form is.
func (s *StandIn) do(t *testing.T, method, path, user, secret string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.URL()+path, body)
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, secret)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// topAdmin is an active top-level Administrator of the dataset (not
// RestComm's default one) in org.
func topAdmin(t *testing.T, d *Dataset, org string) Account {
	t.Helper()
	for _, a := range d.Good() {
		if a.ParentSid == "" && a.Role == "Administrator" && a.Status == "active" && a.Sid != AdminSid && a.Org == org {
			return a
		}
	}
	t.Fatal("no top-level administrator in", org)
	return Account{}
}

func domainOf(org string) string {
	return map[string]string{DefaultOrg: "default.restcomm.com", OtherOrg: "acme.example.com"}[org]
}

// The test database is RestComm's: a latin1 database whose tables have
// no character set or collation of their own (latin1_swedish_ci), with
// RestComm's columns and types.
func TestSchemaIsRestComms(t *testing.T) {
	_, db, _ := standIn(t)
	var charset, collation string
	require.NoError(t, db.QueryRow(`SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME
		FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()`).Scan(&charset, &collation))
	assert.Equal(t, "latin1", charset)
	assert.Equal(t, "latin1_swedish_ci", collation)
	for _, table := range []string{"restcomm_accounts", "restcomm_organizations", "restcomm_clients"} {
		var create string
		require.NoError(t, db.QueryRow("SHOW CREATE TABLE "+table).Scan(&table, &create))
		columns, _, _ := strings.Cut(strings.ToUpper(create), ") ENGINE")
		assert.NotContains(t, columns, "COLLATE", "%s: no column with a collation of its own", table)
		assert.NotContains(t, columns, "CHARACTER SET", "%s: no column with a character set of its own", table)
		require.NoError(t, db.QueryRow(`SELECT TABLE_COLLATION FROM information_schema.TABLES
			WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, table).Scan(&collation))
		assert.Equal(t, "latin1_swedish_ci", collation, table)
	}
	rows, err := db.Query(`SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COALESCE(COLLATION_NAME, '')
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
		AND TABLE_NAME IN ('restcomm_accounts', 'restcomm_organizations') ORDER BY TABLE_NAME, ORDINAL_POSITION`)
	require.NoError(t, err)
	defer rows.Close()
	var got []string
	for rows.Next() {
		var table, col, typ, null, coll string
		require.NoError(t, rows.Scan(&table, &col, &typ, &null, &coll))
		got = append(got, fmt.Sprintf("%s.%s %s null=%s %s", table, col, typ, null, coll))
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{
		"restcomm_accounts.sid varchar(34) null=NO latin1_swedish_ci",
		"restcomm_accounts.date_created datetime null=NO ",
		"restcomm_accounts.date_updated datetime null=NO ",
		"restcomm_accounts.email_address mediumtext null=NO latin1_swedish_ci",
		"restcomm_accounts.friendly_name varchar(64) null=NO latin1_swedish_ci",
		"restcomm_accounts.parent_sid varchar(34) null=YES latin1_swedish_ci",
		"restcomm_accounts.type varchar(8) null=NO latin1_swedish_ci",
		"restcomm_accounts.status varchar(16) null=NO latin1_swedish_ci",
		"restcomm_accounts.auth_token varchar(32) null=NO latin1_swedish_ci",
		"restcomm_accounts.role varchar(64) null=NO latin1_swedish_ci",
		"restcomm_accounts.uri mediumtext null=NO latin1_swedish_ci",
		"restcomm_accounts.organization_sid varchar(34) null=NO latin1_swedish_ci",
		"restcomm_organizations.sid varchar(34) null=NO latin1_swedish_ci",
		"restcomm_organizations.domain_name varchar(255) null=NO latin1_swedish_ci",
		"restcomm_organizations.date_created datetime null=NO ",
		"restcomm_organizations.date_updated datetime null=NO ",
		"restcomm_organizations.status varchar(16) null=NO latin1_swedish_ci",
	}, got)
}

// Logins are looked up as RestComm looks them up, by e-mail address and
// then by SID, and MariaDB's collation decides: case and trailing spaces
// do not count, anything else does.
func TestLoginsAsTheDatabaseDecides(t *testing.T) {
	rc, db, d := standIn(t)
	top := topAdmin(t, d, DefaultOrg)
	require.Equal(t, "user0.o'k@example.com", top.Email, "the dataset's first account")
	// two rows whose addresses differ only in case (old data can hold
	// them): each is found by SID, an address login matches both
	twins := []string{"twin@example.com", "TWIN@example.com"}
	for i, email := range twins {
		sid := "AC" + MD5(fmt.Sprint("twin ", i))
		_, err := db.Exec(`INSERT INTO restcomm_accounts VALUES (?, '2020-01-01 00:00:00', '2020-01-01 00:00:00', ?,
			'twin', NULL, 'Full', 'active', ?, 'Developer', ?, ?)`, sid, email, MD5("Twin-pw-1"), "/2012-04-24/Accounts/"+sid, DefaultOrg)
		require.NoError(t, err)
		twins[i] = sid
	}
	calls := APIRoot + "Accounts/" + top.Sid + "/Calls.json"
	for _, c := range []struct {
		name, user, secret, path string
		want                     int
	}{
		{"the address as stored", top.Email, top.Password, calls, 200},
		{"upper case", strings.ToUpper(top.Email), top.Password, calls, 200},
		{"mixed case", "USER0.O'K@example.COM", top.Password, calls, 200},
		{"a trailing space", top.Email + " ", top.Password, calls, 200},
		{"trailing spaces", top.Email + "   ", top.Token, calls, 200},
		{"a leading space", " " + top.Email, top.Password, calls, 401},
		{"another character", strings.Replace(top.Email, "@", ".@", 1), top.Password, calls, 401},
		{"the SID in upper case", "AC" + strings.ToUpper(top.Sid[2:]), top.Token, calls, 200},
		{"the SID, a trailing space", top.Sid + " ", top.Token, calls, 200},
		{"the SID, a leading space", " " + top.Sid, top.Token, calls, 401},
		{"twins: the address matches both rows", "twin@EXAMPLE.com", "Twin-pw-1", APIRoot + "Accounts/" + twins[0] + "/Calls.json", 500},
		{"twins: the first by SID", twins[0], "Twin-pw-1", APIRoot + "Accounts/" + twins[0] + "/Calls.json", 200},
		{"twins: the second by SID", twins[1], "Twin-pw-1", APIRoot + "Accounts/" + twins[1] + "/Calls.json", 200},
	} {
		code, body := rc.do(t, "GET", c.path, c.user, c.secret, nil)
		assert.Equal(t, c.want, code, "%s (%q): %s", c.name, c.user, body)
	}
}

// POST /Accounts creates as RestComm does: the SID from the lower-cased
// address, 409 when the database holds it, and the linked SIP client only
// when its login is free in the organization.
func TestCreateAccount(t *testing.T) {
	rc, db, d := standIn(t)
	top := topAdmin(t, d, DefaultOrg)
	other := topAdmin(t, d, OtherOrg)
	// a client "Taken" of the top administrator, and one "elsewhere" in the other organization
	for _, c := range []struct {
		who   Account
		login string
	}{{top, "Taken"}, {other, "elsewhere"}} {
		code, body := rc.do(t, "POST", APIRoot+"Accounts/"+c.who.Sid+"/Clients.json", c.who.Email, c.who.Password,
			url.Values{"Login": {c.login}, "Password": {"Their-pw-1"}, "FriendlyName": {"theirs"}})
		require.Equal(t, 200, code, body)
	}
	// a row whose SID is in upper case: the database finds it all the same
	upper := "AC" + strings.ToUpper(MD5("upper.sid@example.com"))
	_, err := db.Exec(`INSERT INTO restcomm_accounts VALUES (?, '2020-01-01 00:00:00', '2020-01-01 00:00:00',
		'upper.sid@example.com', 'upper', NULL, 'Full', 'active', ?, 'Developer', '/uri', ?)`, upper, MD5("x"), DefaultOrg)
	require.NoError(t, err)
	grand := func() Account {
		for _, a := range d.Good() {
			for _, p := range d.Good() {
				if a.ParentSid == p.Sid && p.ParentSid != "" && a.Status == "active" {
					return a
				}
			}
		}
		t.Fatal("no active grandchild")
		return Account{}
	}()

	const taken = "The email address used for the new account is already in use."
	for _, c := range []struct {
		name   string
		caller Account
		form   url.Values
		want   int
		body   string // the whole answer, when not 200
		// with 200: the client expected of the new account ("" none), and its friendly name
		login, clientName string
	}{
		{name: "an existing address", caller: top, form: url.Values{"EmailAddress": {top.Email}, "Password": {"Pw-1-secret!"}},
			want: 409, body: taken},
		{name: "an existing address in another case", caller: top,
			form: url.Values{"EmailAddress": {strings.ToUpper(top.Email)}, "Password": {"Pw-1-secret!"}}, want: 409, body: taken},
		{name: "a SID the database holds in upper case", caller: top,
			form: url.Values{"EmailAddress": {"Upper.SID@example.com"}, "Password": {"Pw-1-secret!"}}, want: 409, body: taken},
		{name: "RestComm's administrator", caller: top,
			form: url.Values{"EmailAddress": {"Administrator@Company.com"}, "Password": {"Pw-1-secret!"}}, want: 409, body: taken},
		{name: "no address", caller: top, form: url.Values{"Password": {"Pw-1-secret!"}}, want: 400, body: "Email address can not be null."},
		{name: "no password", caller: top, form: url.Values{"EmailAddress": {"x@example.com"}}, want: 400, body: "Password can not be null."},
		{name: "a fourth level", caller: grand, form: url.Values{"EmailAddress": {"deep@example.com"}, "Password": {"Pw-1-secret!"}},
			want: 400, body: "This account is not allowed to have sub-accounts"},
		{name: "a new account", caller: top,
			form: url.Values{"EmailAddress": {"New.One@Example.com"}, "Password": {"New-pw-1!"}, "FriendlyName": {"Zoë's phone"}},
			want: 200, login: "New.One", clientName: "Zoë's phone"},
		{name: "no friendly name: the address", caller: top,
			form: url.Values{"EmailAddress": {"plain@example.com"}, "Password": {"Plain-pw-1!"}},
			want: 200, login: "plain", clientName: "plain@example.com"},
		{name: "the login is taken in the organization, in another case", caller: top,
			form: url.Values{"EmailAddress": {"taken@example.com"}, "Password": {"Taken-pw-1!"}, "FriendlyName": {"mine"}}, want: 200},
		{name: "the login is taken with a trailing space", caller: top,
			form: url.Values{"EmailAddress": {"Taken @example.com"}, "Password": {"Taken-pw-1!"}}, want: 200},
		{name: "the login is taken in another organization only", caller: top,
			form: url.Values{"EmailAddress": {"elsewhere@example.com"}, "Password": {"Else-pw-1!"}, "FriendlyName": {"here"}},
			want: 200, login: "elsewhere", clientName: "here"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := rc.do(t, "POST", APIRoot+"Accounts.json", c.caller.Email, c.caller.Password, c.form)
			require.Equal(t, c.want, code, body)
			if c.want != 200 {
				assert.Equal(t, c.body, body)
				return
			}
			email := strings.ToLower(c.form.Get("EmailAddress"))
			sid := SidOf(email)
			var stored, name, parent, org, token string
			require.NoError(t, db.QueryRow(`SELECT email_address, friendly_name, parent_sid, organization_sid, auth_token
				FROM restcomm_accounts WHERE sid = ?`, sid).Scan(&stored, &name, &parent, &org, &token))
			assert.Equal(t, email, stored, "stored lower-cased")
			assert.Equal(t, c.caller.Sid, parent)
			assert.Equal(t, c.caller.Org, org)
			assert.Equal(t, MD5(c.form.Get("Password")), token)
			cs, err := rc.Clients(sid)
			require.NoError(t, err)
			if c.login == "" {
				assert.Empty(t, cs, "no client: the login is taken")
				return
			}
			require.Len(t, cs, 1)
			assert.Equal(t, c.login, cs[0].Login, "the local part as given")
			assert.Equal(t, c.clientName, cs[0].FriendlyName, "the account's friendly name")
			assert.Equal(t, name, cs[0].FriendlyName)
			assert.Equal(t, c.form.Get("Password"), cs[0].Password, "RestComm's account create stores it as given")
			assert.Empty(t, cs[0].PasswordAlgorithm, "and records no algorithm (read as cleartext)")
		})
	}
	// the existing clients are untouched
	cs, err := rc.Clients(top.Sid)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.Equal(t, "Taken", cs[0].Login)
	assert.Equal(t, "theirs", cs[0].FriendlyName)
	assert.Equal(t, HA1("Taken", domainOf(top.Org), "Their-pw-1"), cs[0].Password)
}

// A password or friendly-name change through POST/PUT /Accounts/{sid}
// reaches the linked SIP client, found as RestComm finds it: the local
// part of the stored address, in the account's organization, compared by
// the database.
func TestUpdateLinkedClient(t *testing.T) {
	rc, db, d := standIn(t)
	top := topAdmin(t, d, DefaultOrg)
	create := func(email, password, name string) string {
		code, body := rc.do(t, "POST", APIRoot+"Accounts.json", top.Email, top.Password,
			url.Values{"EmailAddress": {email}, "Password": {password}, "FriendlyName": {name}})
		require.Equal(t, 200, code, body)
		return SidOf(email)
	}
	// its client "Mixed.Case" (the address as given); the address stored "mixed.case@…"
	mixed := create("Mixed.Case@example.com", "Mixed-pw-1!", "mixed")
	// no client of its own: "shared" is the top administrator's
	code, body := rc.do(t, "POST", APIRoot+"Accounts/"+top.Sid+"/Clients.json", top.Email, top.Password,
		url.Values{"Login": {"shared"}, "Password": {"Shared-pw-1"}, "FriendlyName": {"the admin's"}})
	require.Equal(t, 200, code, body)
	shared := create("shared@example.com", "Shared-pw-2!", "sharer")
	domain := domainOf(top.Org)
	client := func(owner, login string) Client {
		t.Helper()
		cs, err := rc.Clients(owner)
		require.NoError(t, err)
		for _, c := range cs {
			if c.Login == login {
				return c
			}
		}
		t.Fatalf("no client %q of %s", login, owner)
		return Client{}
	}

	for _, c := range []struct {
		name, sid, method string
		form              url.Values
		owner, login      string // the client that must change
		password, fname   string // what it must hold then
	}{
		{"a new password", mixed, "POST", url.Values{"Password": {"Mixed-pw-2!"}}, mixed, "Mixed.Case",
			HA1("Mixed.Case", domain, "Mixed-pw-2!"), "mixed"},
		{"a new friendly name", mixed, "PUT", url.Values{"FriendlyName": {"Mixed, renamed"}}, mixed, "Mixed.Case",
			HA1("Mixed.Case", domain, "Mixed-pw-2!"), "Mixed, renamed"},
		{"both", mixed, "POST", url.Values{"Password": {"Mixed-pw-3!"}, "FriendlyName": {"both"}}, mixed, "Mixed.Case",
			HA1("Mixed.Case", domain, "Mixed-pw-3!"), "both"},
		{"a status only: the client is not touched", mixed, "POST", url.Values{"Status": {"active"}}, mixed, "Mixed.Case",
			HA1("Mixed.Case", domain, "Mixed-pw-3!"), "both"},
		{"the organization's client of that login, whoever owns it", shared, "POST",
			url.Values{"Password": {"Shared-pw-3!"}, "FriendlyName": {"taken over"}}, top.Sid, "shared",
			HA1("shared", domain, "Shared-pw-3!"), "taken over"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := rc.do(t, c.method, APIRoot+"Accounts/"+c.sid+".json", top.Email, top.Password, c.form)
			require.Equal(t, 200, code, body)
			got := client(c.owner, c.login)
			assert.Equal(t, c.password, got.Password)
			assert.Equal(t, c.fname, got.FriendlyName)
			var name, token string
			require.NoError(t, db.QueryRow("SELECT friendly_name, auth_token FROM restcomm_accounts WHERE sid = ?", c.sid).Scan(&name, &token))
			if c.form.Has("FriendlyName") {
				assert.Equal(t, c.form.Get("FriendlyName"), name, "the account too")
			}
			if c.form.Has("Password") {
				assert.Equal(t, MD5(c.form.Get("Password")), token, "the account too")
				assert.Equal(t, "MD5", got.PasswordAlgorithm)
			}
		})
	}
	cs, err := rc.Clients(shared)
	require.NoError(t, err)
	assert.Empty(t, cs, "the sharer never had a client of its own")
}
