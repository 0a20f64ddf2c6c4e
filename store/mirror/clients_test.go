package mirror

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/importer"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// restcomm sends one request to the stand-in RestComm itself, not through
// the mirror.
func (e *env) restcomm(method, path, user, secret string, form url.Values) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.rc.URL()+restcommtest.APIRoot+path, strings.NewReader(form.Encode()))
	require.NoError(e.t, err)
	req.SetBasicAuth(user, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return res.StatusCode, string(b)
}

// client is the client of login an account owns in RestComm (the zero
// Client when none).
func (e *env) client(owner, login string) restcommtest.Client {
	e.t.Helper()
	cs, err := e.rc.Clients(owner)
	require.NoError(e.t, err)
	for _, c := range cs {
		if c.Login == login {
			return c
		}
	}
	return restcommtest.Client{}
}

func domainOf(org string) string {
	if org == restcommtest.OtherOrg {
		return "acme.example.com"
	}
	return "default.restcomm.com"
}

// The mirror keeps an account's SIP client as RestComm keeps it: a create
// adds it with the account's friendly name, unless the organization has
// that login (left untouched); a password change and a friendly-name
// change update the organization's client of that login, found as
// RestComm's own updateLinkedClient finds it (the database comparing the
// logins), whoever owns it.
func TestSIPClientsAsRestCommKeepsThem(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	top := e.admin()
	domain := domainOf(top.Org)
	// a client "Taken.Login" of the top administrator, made at RestComm
	code, body := e.restcomm("POST", "Accounts/"+top.Sid+"/Clients.json", top.Email, top.Password,
		url.Values{"Login": {"Taken.Login"}, "Password": {"Theirs-pw-1"}, "FriendlyName": {"theirs"}})
	require.Equal(t, http.StatusOK, code, body)
	theirs := e.client(top.Sid, "Taken.Login")
	// an account RestComm itself created, with its client "Made.At.RestComm"
	// (the address as given; the account's address stored lower-cased),
	// then imported
	code, body = e.restcomm("POST", "Accounts.json", top.Email, top.Password,
		url.Values{"EmailAddress": {"Made.At.RestComm@example.com"}, "Password": {"Made-pw-1!"}, "FriendlyName": {"made"}})
	require.Equal(t, http.StatusOK, code, body)
	made := restcommtest.SidOf("made.at.restcomm@example.com")
	src, err := restcommdb.ReadDB(ctx, e.db, "restcomm")
	require.NoError(t, err)
	_, err = importer.Run(ctx, e.st, src, importer.Options{})
	require.NoError(t, err)
	// a store without secret_key: its changes carry no sealed password
	unsealed := store.New(e.rdb, "")
	e.worker("w1")
	settle := func() {
		t.Helper()
		st := e.drained(10 * time.Second)
		require.Zero(t, st.Dead, "nothing dead-lettered")
		e.noDifference()
	}

	kid := newAccount("kid.two@example.com", top.Sid, top.Org, "Developer")
	kid.FriendlyName = "Zoë's desk"
	_, err = e.st.CreateAccount(ctx, nil, kid, store.WithPassword("Kid-pass-1"))
	require.NoError(t, err)
	taker := newAccount("taken.login@example.com", top.Sid, top.Org, "Developer")
	_, err = e.st.CreateAccount(ctx, nil, taker, store.WithPassword("Taker-pass-1"))
	require.NoError(t, err)
	// created as "Mixed.Case@example.com": stored lower-cased, its client
	// keeps the case given, as RestComm's own create does
	mixed := newAccount("mixed.case@example.com", top.Sid, top.Org, "Developer")
	_, err = e.st.CreateAccount(ctx, nil, mixed, store.WithPassword("Mixed-pass-1"), store.WithClientLogin("Mixed.Case"))
	require.NoError(t, err)
	settle()

	t.Run("create: the client has the account's friendly name", func(t *testing.T) {
		c := e.client(kid.Sid, "kid.two")
		require.NotEmpty(t, c.Sid)
		assert.Equal(t, "Zoë's desk", c.FriendlyName)
		assert.Equal(t, restcommtest.HA1("kid.two", domain, "Kid-pass-1"), c.Password)
	})
	t.Run("create: the client's login keeps the case the e-mail address was given in", func(t *testing.T) {
		cs, err := e.rc.Clients(mixed.Sid)
		require.NoError(t, err)
		require.Len(t, cs, 1)
		assert.Equal(t, "Mixed.Case", cs[0].Login)
	})
	t.Run("create: the login is taken in the organization (case ignored): the client is left alone", func(t *testing.T) {
		cs, err := e.rc.Clients(taker.Sid)
		require.NoError(t, err)
		assert.Empty(t, cs)
		assert.Equal(t, theirs, e.client(top.Sid, "Taken.Login"), "untouched")
	})

	for _, c := range []struct {
		name   string
		st     *store.Store
		sid    string
		update store.AccountUpdate
		pw     string
		// the client that must follow, and what it must then hold
		owner, login, password, fname string
	}{
		{name: "a password change", st: e.st, sid: kid.Sid, pw: "Kid-pass-2",
			owner: kid.Sid, login: "kid.two", password: restcommtest.HA1("kid.two", domain, "Kid-pass-2"), fname: "Zoë's desk"},
		{name: "a friendly-name change", st: e.st, sid: kid.Sid, update: store.AccountUpdate{FriendlyName: ptr("Kid, renamed")},
			owner: kid.Sid, login: "kid.two", password: restcommtest.HA1("kid.two", domain, "Kid-pass-2"), fname: "Kid, renamed"},
		{name: "a friendly-name change needs no secret_key", st: unsealed, sid: kid.Sid, update: store.AccountUpdate{FriendlyName: ptr("Kid again")},
			owner: kid.Sid, login: "kid.two", password: restcommtest.HA1("kid.two", domain, "Kid-pass-2"), fname: "Kid again"},
		{name: "both", st: e.st, sid: kid.Sid, update: store.AccountUpdate{FriendlyName: ptr("Both")}, pw: "Kid-pass-3",
			owner: kid.Sid, login: "kid.two", password: restcommtest.HA1("kid.two", domain, "Kid-pass-3"), fname: "Both"},
		{name: "a password change of RestComm's own client, found as RestComm finds it (case ignored)", st: e.st, sid: made,
			pw: "Made-pw-2!", update: store.AccountUpdate{FriendlyName: ptr("made, renamed")},
			owner: made, login: "Made.At.RestComm", password: restcommtest.HA1("Made.At.RestComm", domain, "Made-pw-2!"), fname: "made, renamed"},
		{name: "the organization's client of that login follows, whoever owns it (as in RestComm)", st: e.st, sid: taker.Sid,
			pw: "Taker-pass-2", update: store.AccountUpdate{FriendlyName: ptr("taker")},
			owner: top.Sid, login: "Taken.Login", password: restcommtest.HA1("Taken.Login", domain, "Taker-pass-2"), fname: "taker"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := c.update
			u.Now = time.Now()
			var opts []store.ChangeOption
			if c.pw != "" {
				tok := md5hex(c.pw)
				u.AuthToken = &tok
				opts = append(opts, store.WithPassword(c.pw))
			}
			e.rc.Take()
			_, err := c.st.UpdateAccount(ctx, nil, c.sid, u, opts...)
			require.NoError(t, err)
			settle()
			got := e.client(c.owner, c.login)
			require.NotEmpty(t, got.Sid, "the client is still there")
			assert.Equal(t, c.password, got.Password)
			assert.Equal(t, c.fname, got.FriendlyName)
			reqs := e.rc.Take()
			require.Len(t, reqs, 1, "one request: the client's update")
			assert.Equal(t, restcommtest.APIRoot+"Accounts/"+c.owner+"/Clients/"+got.Sid+".json", reqs[0].Path)
			assert.Equal(t, http.StatusOK, reqs[0].Status)
		})
	}

	t.Run("a friendly-name change of an account without a client: nothing to do", func(t *testing.T) {
		loner := newAccount("no.client@example.com", top.Sid, top.Org, "Developer")
		_, err := unsealed.CreateAccount(ctx, nil, loner) // no password sealed: no client
		require.NoError(t, err)
		_, err = e.st.UpdateAccount(ctx, nil, loner.Sid, store.AccountUpdate{FriendlyName: ptr("still none"), Now: time.Now()})
		require.NoError(t, err)
		settle()
		cs, err := e.rc.Clients(loner.Sid)
		require.NoError(t, err)
		assert.Empty(t, cs)
	})
}
