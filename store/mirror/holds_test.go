package mirror

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
	"github.com/restcomm/restcomm-gateway/store"
)

// accountRow is one row of RestComm's accounts table as text, for
// comparing before and after.
func (e *env) accountRow(sid string) string {
	e.t.Helper()
	var s string
	err := e.db.QueryRow(`SELECT CONCAT_WS('|', sid, date_created, date_updated, email_address, friendly_name,
		COALESCE(parent_sid, 'NULL'), type, status, auth_token, role, uri, organization_sid)
		FROM restcomm_accounts WHERE sid = ?`, sid).Scan(&s)
	if err != nil {
		return "no row: " + err.Error()
	}
	return s
}

// deadLetters are the dead letters, oldest first.
func (e *env) deadLetters() []store.DeadLetter {
	e.t.Helper()
	ds, err := e.st.Outbox().DeadLetters(context.Background(), 100)
	require.NoError(e.t, err)
	for i, j := 0, len(ds)-1; i < j; i, j = i+1, j-1 {
		ds[i], ds[j] = ds[j], ds[i]
	}
	return ds
}

// requestsFor are the requests RestComm received that name sid.
func requestsFor(got []restcommtest.Received, sid string) []restcommtest.Received {
	var out []restcommtest.Received
	for _, r := range got {
		if strings.Contains(r.Path, sid) || r.Caller == sid {
			out = append(out, r)
		}
	}
	return out
}

// A row RestComm already has under the SID of an account the gateway
// creates is RestComm's own account: it stays as it is, the create is
// dead-lettered as a conflict (its sealed password kept), and nothing of
// that account, or created under it, is written or asked of RestComm
// while the dead letter stands. Once RestComm's row is gone, retrying the
// dead letters in order writes the account as the gateway has it, its SIP
// client with its newest password.
func TestCreateNeverOverwritesRestCommsAccount(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	top := e.admin()
	x := newAccount("taken@example.com", top.Sid, top.Org, "Administrator")
	_, err := e.db.ExecContext(ctx, `INSERT INTO restcomm_accounts VALUES (?, '2019-05-05 10:00:00', '2019-05-05 10:00:00',
		'TAKEN@example.com', 'Someone else', NULL, 'Full', 'active', ?, 'Developer', ?, ?)`,
		x.Sid, md5hex("theirs"), "/2012-04-24/Accounts/"+x.Sid, top.Org)
	require.NoError(t, err)
	theirs := e.accountRow(x.Sid)

	// a backlog: the create, changes of it, an account created under it,
	// a cascade over it, and changes of others around them
	before := newAccount("before@example.com", top.Sid, top.Org, "Developer")
	_, err = e.st.CreateAccount(ctx, nil, before)
	require.NoError(t, err)
	_, err = e.st.CreateAccount(ctx, nil, x, store.WithPassword("X-pass-1"))
	require.NoError(t, err)
	_, err = e.st.UpdateAccount(ctx, nil, x.Sid, store.AccountUpdate{Role: ptr("Developer"), Now: time.Now()})
	require.NoError(t, err)
	tok := md5hex("X-pass-2")
	_, err = e.st.UpdateAccount(ctx, nil, x.Sid, store.AccountUpdate{AuthToken: &tok, Now: time.Now()}, store.WithPassword("X-pass-2"))
	require.NoError(t, err)
	kid := newAccount("under.taken@example.com", x.Sid, top.Org, "Developer")
	_, err = e.st.CreateAccount(ctx, nil, kid, store.WithPassword("Kid-pass-1"))
	require.NoError(t, err)
	after := newAccount("after@example.com", top.Sid, top.Org, "Developer")
	_, err = e.st.CreateAccount(ctx, nil, after)
	require.NoError(t, err)

	e.rc.Take()
	w, _ := e.worker("w1")
	st := e.drained(20 * time.Second)
	assert.Equal(t, theirs, e.accountRow(x.Sid), "RestComm's own account is left as it is")
	assert.Contains(t, e.accountRow(kid.Sid), "no row", "nothing created under it")
	assert.Empty(t, requestsFor(e.rc.Take(), x.Sid), "nothing asked of RestComm for it or as it")
	cs, err := e.rc.Clients(x.Sid)
	require.NoError(t, err)
	assert.Empty(t, cs)
	assert.Equal(t, "active", e.rowStatus(before.Sid))
	assert.Equal(t, "active", e.rowStatus(after.Sid), "the entries behind are delivered")

	dead := e.deadLetters()
	require.Len(t, dead, 4, "%+v", dead)
	assert.EqualValues(t, 4, st.Dead)
	for i, want := range []struct{ op, sid, says string }{
		{store.OpCreate, x.Sid, "date_created 2019-05-05 10:00:00 there"},
		{store.OpUpdate, x.Sid, "RestComm holds another account under the SID of account " + x.Sid},
		{store.OpUpdate, x.Sid, "not written"},
		{store.OpCreate, kid.Sid, "its parent " + x.Sid + " is held in RestComm by another account"},
	} {
		d := dead[i]
		assert.Equal(t, kindConflict, d.Kind, "%d", i)
		assert.Equal(t, want.op, d.Entry.Op, "%d", i)
		assert.Equal(t, want.sid, d.Entry.Sid, "%d", i)
		assert.Contains(t, d.Reason, want.says, "%d", i)
		for _, secret := range []string{x.AuthToken, tok, md5hex("theirs"), kid.AuthToken} {
			assert.NotContains(t, d.Reason, secret, "no token in a reason")
		}
	}
	assert.NotContains(t, dead[0].Reason, "email_address", "the addresses are equal as the database compares them")
	assert.True(t, dead[0].Sealed, "the create's sealed password is kept for a retry")
	assert.False(t, dead[1].Sealed)
	assert.True(t, dead[2].Sealed, "the new password's too: its SIP client was not updated")
	assert.EqualValues(t, 4, counter(w.cfg.Metrics.DeadLettered.WithLabelValues(kindConflict)))
	held, err := e.st.Outbox().ConflictingAccounts(ctx, []string{x.Sid, kid.Sid, before.Sid})
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{x.Sid: true, kid.Sid: true}, held)

	// a later change of it is not written either
	_, err = e.st.UpdateAccount(ctx, nil, x.Sid, store.AccountUpdate{FriendlyName: ptr("still mine"), Now: time.Now()})
	require.NoError(t, err)
	e.drained(10 * time.Second)
	assert.Equal(t, theirs, e.accountRow(x.Sid))

	// RestComm's row removed, the dead letters retried in order: the
	// account as the gateway has it, its client with its newest password
	_, err = e.db.ExecContext(ctx, "DELETE FROM restcomm_accounts WHERE sid = ?", x.Sid)
	require.NoError(t, err)
	var ids []string
	for _, d := range e.deadLetters() {
		ids = append(ids, d.ID)
	}
	require.Len(t, ids, 5, "the rename too")
	_, err = e.st.Outbox().RetryDeadLetters(ctx, ids)
	require.NoError(t, err)
	e.drained(20 * time.Second)
	assert.Empty(t, e.deadLetters())
	e.noDifference()
	held, err = e.st.Outbox().ConflictingAccounts(ctx, []string{x.Sid, kid.Sid})
	require.NoError(t, err)
	assert.Empty(t, held, "the marks went with their dead letters")
	domain := "default.restcomm.com"
	if top.Org == restcommtest.OtherOrg {
		domain = "acme.example.com"
	}
	cs, err = e.rc.Clients(x.Sid)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.Equal(t, restcommtest.HA1("taken", domain, "X-pass-2"), cs[0].Password)
	cs, err = e.rc.Clients(kid.Sid)
	require.NoError(t, err)
	assert.Len(t, cs, 1)
}

// A row under the SID of a created account is the gateway's own earlier
// delivery, replayed, when its date_created and e-mail address are the
// account's as the database compares them (its collation ignores case):
// it is updated, no conflict. Another address under the same date is a
// conflict.
func TestReplayedCreateIsNotAConflict(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	top := e.admin()
	w, stop := e.worker("w1")
	a := newAccount("replayed@example.com", top.Sid, top.Org, "Developer")
	_, err := e.st.CreateAccount(ctx, nil, a)
	require.NoError(t, err)
	msgs, err := e.rdb.XRange(ctx, "{restcomm}:outbox", "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	create := entryOf(msgs[0])
	e.drained(10 * time.Second)
	stop()
	ours := e.accountRow(a.Sid)

	require.NoError(t, w.deliverOne(ctx, &create, 0), "replayed as it was")
	assert.Equal(t, ours, e.accountRow(a.Sid))

	_, err = e.db.ExecContext(ctx, "UPDATE restcomm_accounts SET email_address = 'REPLAYED@Example.com', friendly_name = 'stale' WHERE sid = ?", a.Sid)
	require.NoError(t, err)
	require.NoError(t, w.deliverOne(ctx, &create, 0), "an address equal under latin1_swedish_ci")
	assert.Equal(t, ours, e.accountRow(a.Sid), "updated as the gateway has it")

	_, err = e.db.ExecContext(ctx, "UPDATE restcomm_accounts SET email_address = 'someone.else@example.com', friendly_name = 'theirs' WHERE sid = ?", a.Sid)
	require.NoError(t, err)
	theirs := e.accountRow(a.Sid)
	err = w.deliverOne(ctx, &create, 0)
	p, perm := isPermanent(err)
	require.True(t, perm, "%v", err)
	assert.Equal(t, kindConflict, p.kind)
	assert.Contains(t, p.reason, "email_address differs")
	assert.NotContains(t, p.reason, "date_created")
	assert.NotContains(t, p.reason, "someone.else", "no address in the reason")
	assert.Equal(t, theirs, e.accountRow(a.Sid), "left as it is")
}

// A change of an account whose row RestComm no longer has inserts
// nothing: it is dead-lettered as missing. A close cascading over such an
// account still closes the others, through RestComm, and is
// dead-lettered as missing too; the changes around them are delivered.
func TestUpdateOfARowRestCommNoLongerHas(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	top := e.admin()
	w, _ := e.worker("w1")
	gone := newAccount("gone@example.com", top.Sid, top.Org, "Developer")
	parent := newAccount("parent@example.com", top.Sid, top.Org, "Developer")
	kid := newAccount("kid.gone@example.com", parent.Sid, top.Org, "Developer")
	sibling := newAccount("kid.kept@example.com", parent.Sid, top.Org, "Developer")
	for _, a := range []*store.Account{gone, parent, kid, sibling} {
		_, err := e.st.CreateAccount(ctx, nil, a)
		require.NoError(t, err)
	}
	e.drained(10 * time.Second)
	_, err := e.db.ExecContext(ctx, "DELETE FROM restcomm_accounts WHERE sid IN (?, ?)", gone.Sid, kid.Sid)
	require.NoError(t, err)

	e.rc.Take()
	_, err = e.st.UpdateAccount(ctx, nil, gone.Sid, store.AccountUpdate{FriendlyName: ptr("renamed"), Now: time.Now()})
	require.NoError(t, err)
	_, err = e.st.UpdateAccount(ctx, nil, parent.Sid, store.AccountUpdate{Status: ptr("closed"), Now: time.Now()})
	require.NoError(t, err)
	_, err = e.st.UpdateAccount(ctx, nil, top.Sid, store.AccountUpdate{FriendlyName: ptr("top, renamed"), Now: time.Now()})
	require.NoError(t, err)
	st := e.drained(10 * time.Second)

	for _, sid := range []string{gone.Sid, kid.Sid} {
		assert.Contains(t, e.accountRow(sid), "no row", "not inserted again")
	}
	assert.Equal(t, "closed", e.rowStatus(parent.Sid))
	assert.Equal(t, "closed", e.rowStatus(sibling.Sid))
	var closes int
	for _, r := range e.rc.Take() {
		if r.Method == http.MethodPut && strings.Contains(r.Path, parent.Sid) && r.Status == http.StatusOK {
			closes++
		}
	}
	assert.Equal(t, 1, closes, "the close asked of RestComm")
	var name string
	require.NoError(t, e.db.QueryRow("SELECT friendly_name FROM restcomm_accounts WHERE sid = ?", top.Sid).Scan(&name))
	assert.Equal(t, "top, renamed", name)

	assert.EqualValues(t, 2, st.Dead)
	dead := e.deadLetters()
	require.Len(t, dead, 2)
	assert.Equal(t, kindMissing, dead[0].Kind)
	assert.Equal(t, gone.Sid, dead[0].Entry.Sid)
	assert.Contains(t, dead[0].Reason, "no longer has account "+gone.Sid)
	assert.Equal(t, kindMissing, dead[1].Kind)
	assert.Equal(t, parent.Sid, dead[1].Entry.Sid)
	assert.Contains(t, dead[1].Reason, kid.Sid)
	assert.NotContains(t, dead[1].Reason, sibling.Sid)
	assert.EqualValues(t, 2, counter(w.cfg.Metrics.DeadLettered.WithLabelValues(kindMissing)))
}

// An account whose friendly name RestComm's latin1 table cannot hold
// (its rename dead-lettered) is then closed, and another one's password
// changed: the security columns reach RestComm all the same (status
// closed over the subtree, through RestComm's close; the new auth token,
// which RestComm then accepts), the other columns not, and both changes
// are dead-lettered as degraded and counted apart. A backlog, so that
// the failing rows come in a batch first.
func TestSecurityChangesReachRestCommDegraded(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	top := e.admin()
	_, stop := e.worker("w1")
	fraud := newAccount("fraud@example.com", top.Sid, top.Org, "Developer")
	kid := newAccount("fraud.kid@example.com", fraud.Sid, top.Org, "Developer")
	rekeyed := newAccount("rekeyed@example.com", top.Sid, top.Org, "Developer")
	for _, a := range []*store.Account{fraud, kid, rekeyed} {
		_, err := e.st.CreateAccount(ctx, nil, a, store.WithPassword("Pass-"+a.EmailAddress))
		require.NoError(t, err)
	}
	e.drained(10 * time.Second)
	stop()
	oldRow := map[string]string{fraud.Sid: e.accountRow(fraud.Sid), rekeyed.Sid: e.accountRow(rekeyed.Sid)}

	later := time.Now().Add(2 * time.Second) // a new date_updated, to the second
	for _, sid := range []string{fraud.Sid, rekeyed.Sid} {
		_, err := e.st.UpdateAccount(ctx, nil, sid, store.AccountUpdate{FriendlyName: ptr("fraud 😀"), Now: later})
		require.NoError(t, err)
	}
	_, err := e.st.UpdateAccount(ctx, nil, fraud.Sid, store.AccountUpdate{Status: ptr("closed"), Now: later})
	require.NoError(t, err)
	tok := md5hex("New-pass-1")
	_, err = e.st.UpdateAccount(ctx, nil, rekeyed.Sid, store.AccountUpdate{AuthToken: &tok, Now: later},
		store.WithPassword("New-pass-1"))
	require.NoError(t, err)
	good := newAccount("good.after@example.com", top.Sid, top.Org, "Developer")
	_, err = e.st.CreateAccount(ctx, nil, good)
	require.NoError(t, err)

	e.rc.Take()
	w, _ := e.worker("w2")
	st := e.drained(20 * time.Second)
	got := e.rc.Take()

	// the close: asked of RestComm as the Administrator above, which
	// cascaded; the rows closed; the friendly name as RestComm had it
	var closes []restcommtest.Received
	for _, r := range got {
		if r.Method == http.MethodPut && r.Path == restcommtest.APIRoot+"Accounts/"+fraud.Sid+".json" {
			closes = append(closes, r)
		}
	}
	require.Len(t, closes, 1, "%+v", got)
	assert.Equal(t, top.Sid, closes[0].Caller)
	assert.Equal(t, http.StatusOK, closes[0].Status, "RestComm saw the account active, and closed it")
	assert.Equal(t, "closed", e.rowStatus(fraud.Sid))
	assert.Equal(t, "closed", e.rowStatus(kid.Sid), "the subtree too")
	a, err := e.st.Account(ctx, fraud.Sid)
	require.NoError(t, err)
	row := e.accountRow(fraud.Sid)
	assert.Contains(t, row, "|fraud@example.com|fraud@example.com|", "the friendly name RestComm had")
	assert.Contains(t, row, a.DateUpdated.UTC().Format(time.DateTime), "date_updated written")
	assert.NotEqual(t, oldRow[fraud.Sid], row)

	// the password: RestComm has the new token, and lets the account in
	// with the new password only
	row = e.accountRow(rekeyed.Sid)
	assert.Contains(t, row, "|"+tok+"|")
	assert.Contains(t, row, "|rekeyed@example.com|rekeyed@example.com|")
	path := restcommtest.APIRoot + "Accounts/" + rekeyed.Sid + "/Calls.json"
	assert.Equal(t, http.StatusOK, e.rc.Status(t, path, rekeyed.Sid, "New-pass-1"))
	assert.Equal(t, http.StatusUnauthorized, e.rc.Status(t, path, rekeyed.Sid, "Pass-rekeyed@example.com"))
	assert.Equal(t, "active", e.rowStatus(good.Sid), "delivered behind them")

	dead := e.deadLetters()
	require.Len(t, dead, 4, "%+v", dead)
	assert.EqualValues(t, 4, st.Dead)
	byKind := map[string][]store.DeadLetter{}
	for _, d := range dead {
		byKind[d.Kind] = append(byKind[d.Kind], d)
	}
	require.Len(t, byKind[kindRejected], 2, "the renames")
	require.Len(t, byKind[kindDegraded], 2, "%+v", dead)
	closed, rekey := byKind[kindDegraded][0], byKind[kindDegraded][1]
	assert.Equal(t, fraud.Sid, closed.Entry.Sid)
	assert.Equal(t, store.StatusClosed, closed.Entry.Status)
	assert.Equal(t, rekeyed.Sid, rekey.Entry.Sid)
	assert.True(t, rekey.Entry.NewPassword)
	for _, d := range byKind[kindDegraded] {
		assert.Contains(t, d.Reason, "only status, auth_token, date_updated written to")
		assert.Contains(t, d.Reason, "not email_address, friendly_name, parent_sid, type, role, uri, organization_sid")
		assert.Contains(t, d.Reason, "friendly_name", "names the column refused")
		assert.NotContains(t, d.Reason, tok)
		assert.False(t, d.Sealed, "its side effect ran")
	}
	assert.Contains(t, closed.Reason, fmt.Sprintf("accounts %s, %s, %s", fraud.Sid, kid.Sid, top.Sid))
	assert.EqualValues(t, 2, counter(w.cfg.Metrics.SecurityDegraded))
	assert.EqualValues(t, 2, counter(w.cfg.Metrics.DeadLettered.WithLabelValues(kindDegraded)))
	assert.EqualValues(t, 2, counter(w.cfg.Metrics.DeadLettered.WithLabelValues(kindRejected)))
}
