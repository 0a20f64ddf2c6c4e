package store_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
)

// importAs imports accounts as `accounts import` does, under rule.
func importAs(t *testing.T, st *store.Store, rule collation.Rule, accts ...store.Account) {
	t.Helper()
	_, err := st.SetCollation(ctx, rule)
	require.NoError(t, err)
	res, err := st.ImportAccounts(ctx, [][]store.Account{accts}, store.ImportOptions{})
	require.NoError(t, err)
	for i, r := range res[0] {
		require.Equal(t, store.Imported, r.Outcome, "%s", accts[i].EmailAddress)
	}
}

func resolveSid(t *testing.T, st *store.Store, mode store.LookupMode, id string) string {
	t.Helper()
	res, err := st.Resolve(ctx, store.Lookup{Mode: mode, ID: id})
	require.NoError(t, err)
	if res[0].Ambiguous {
		return "ambiguous"
	}
	if res[0].Account == nil {
		return ""
	}
	return res[0].Account.Sid
}

// Every way RestComm's database finds an account is how the gateway finds
// it, under each rule, for logins and for identifiers in paths.
func TestLookupsFollowTheNamespaceRule(t *testing.T) {
	t.Parallel()
	child := *account("grand.child@acme.com", store.DefaultAdminSid)
	child.EmailAddress = "Grand.Child@Acme.com" // imported as RestComm stores it
	child.FriendlyName = "Grand Child"
	for _, tc := range []struct {
		rule  collation.Rule
		id    string
		login bool // found by a login
		path  bool // found by /Accounts/{id}
	}{
		{collation.Latin1SwedishCI, "Grand.Child@Acme.com", true, true},
		{collation.Latin1SwedishCI, "GRAND.CHILD@ACME.COM", true, true},
		{collation.Latin1SwedishCI, "grand.child@acme.com  ", true, true},
		{collation.Latin1SwedishCI, " grand.child@acme.com", false, false},
		{collation.Latin1SwedishCI, "grand.child@acme.com\t", false, false},
		{collation.Latin1SwedishCI, "gränd.child@acme.com", false, false}, // ä is not a in Swedish
		{collation.Latin1SwedishCI, "grànd.child@acme.com", true, true},   // à is
		{collation.Latin1SwedishCI, child.Sid, true, true},
		{collation.Latin1SwedishCI, "ac" + child.Sid[2:], true, true},
		{collation.Latin1SwedishCI, "AC" + upper(child.Sid[2:]), true, true},
		{collation.Latin1SwedishCI, child.Sid + " ", true, true},
		{collation.Latin1SwedishCI, "GRAND child", false, true},
		{collation.Exact, "Grand.Child@Acme.com", true, true},
		{collation.Exact, "grand.child@acme.com", false, false},
		{collation.Exact, "Grand.Child@Acme.com ", false, false},
		{collation.Exact, "ac" + child.Sid[2:], false, false},
		{collation.Exact, "GRAND child", false, false},
		{collation.ExactPad, "Grand.Child@Acme.com ", true, true},
		{collation.ExactPad, "grand.child@acme.com", false, false},
	} {
		t.Run(tc.rule.Name()+"/"+tc.id, func(t *testing.T) {
			t.Parallel()
			st, _ := newStore(t)
			importAs(t, st, tc.rule, child)
			want := func(found bool) string {
				if found {
					return child.Sid
				}
				return ""
			}
			assert.Equal(t, want(tc.login), resolveSid(t, st, store.ByLogin, tc.id), "login")
			assert.Equal(t, want(tc.path), resolveSid(t, st, store.ByID, tc.id), "path")
		})
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// Accounts whose e-mail addresses differ only in case are all imported:
// each logs in by SID, an e-mail login that finds both is ambiguous, and
// a create of that address is a duplicate.
func TestCaseOnlyDuplicatesAreAmbiguousByEmail(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	a := *account("dup@acme.com", store.DefaultAdminSid)
	b := *account("other@acme.com", store.DefaultAdminSid)
	b.EmailAddress = "DUP@acme.com"
	importAs(t, st, collation.Latin1SwedishCI, a, b)

	assert.Equal(t, "ambiguous", resolveSid(t, st, store.ByLogin, "dup@acme.com"))
	assert.Equal(t, "ambiguous", resolveSid(t, st, store.ByLogin, "Dup@Acme.com"))
	assert.Equal(t, a.Sid, resolveSid(t, st, store.ByLogin, a.Sid))
	assert.Equal(t, b.Sid, resolveSid(t, st, store.ByLogin, b.Sid))
	assert.Equal(t, "ambiguous", resolveSid(t, st, store.ByID, "dup@acme.com"))

	taken, err := st.AccountTaken(ctx, "AC"+md5hex("dup@acme.com"), "dup@acme.com")
	require.NoError(t, err)
	assert.True(t, taken)
	c := account("dup@acme.com", store.DefaultAdminSid)
	c.Sid = "AC" + md5hex("third") // even under another SID: the address is taken
	_, err = st.CreateAccount(ctx, nil, c)
	assert.ErrorIs(t, err, store.ErrDuplicate)
}

// A namespace written before rules were recorded (one e-mail string key
// per account) is re-keyed when opened, and a change of rule re-keys it
// again, atomically, taking every account and reservation along.
func TestReKeying(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	st := store.New(rdb, "")
	_, err := st.Seed(ctx, "")
	require.NoError(t, err)
	grand := account("grand@company.com", store.DefaultAdminSid)
	grand.FriendlyName = "Grand Child"
	mustCreate(t, st, grand)
	require.NoError(t, st.ReplaceReservations(ctx, []store.Reservation{{Sid: "AC" + md5hex("held@acme.com"), Email: "Held@Acme.com", Reason: "shared e-mail"}}))

	// back to the old layout, as an older gateway left it
	for _, a := range []struct{ email, sid string }{{store.DefaultAdminEmail, store.DefaultAdminSid}, {"grand@company.com", grand.Sid}} {
		require.NoError(t, rdb.Del(ctx, "{restcomm}:emails:"+a.email).Err())
		require.NoError(t, rdb.Set(ctx, "{restcomm}:email:"+a.email, a.sid, 0).Err())
	}
	require.NoError(t, rdb.Del(ctx, "{restcomm}:keys").Err())

	st = store.New(rdb, "")
	keys, err := st.OpenKeys(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, "1:exact", keys.From)
	assert.Equal(t, 2, keys.Reindexed)
	assert.Equal(t, collation.Exact, keys.Rule)
	n, err := rdb.Exists(ctx, "{restcomm}:email:grand@company.com", "{restcomm}:email:"+store.DefaultAdminEmail).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "old keys removed")
	assert.Equal(t, grand.Sid, resolveSid(t, st, store.ByLogin, "grand@company.com"))
	assert.Empty(t, resolveSid(t, st, store.ByLogin, "GRAND@company.com"))

	// the import of a MariaDB source imposes its rule
	reindexed, err := st.SetCollation(ctx, collation.Latin1SwedishCI)
	require.NoError(t, err)
	assert.Equal(t, 2, reindexed)
	assert.Equal(t, grand.Sid, resolveSid(t, st, store.ByLogin, "GRAND@company.com "))
	assert.Equal(t, grand.Sid, resolveSid(t, st, store.ByID, "grand child"))
	assert.Equal(t, "2:latin1_swedish_ci", rdb.Get(ctx, "{restcomm}:keys").Val())
	taken, err := st.AccountTaken(ctx, "AC"+md5hex("held@acme.com"), "held@acme.com")
	require.NoError(t, err)
	assert.True(t, taken, "the reservation is re-keyed too")

	// a store that still uses the old rule learns the new one on its
	// next lookup, and never writes keys under the old one
	old := store.New(rdb, "")
	_, err = old.OpenKeys(ctx, nil)
	require.NoError(t, err)
	_, err = st.SetCollation(ctx, collation.Exact)
	require.NoError(t, err)
	assert.Equal(t, collation.Latin1SwedishCI, old.Collation())
	assert.Empty(t, resolveSid(t, old, store.ByLogin, "GRAND@company.com"))
	assert.Equal(t, collation.Exact, old.Collation())
	x := account("x@company.com", store.DefaultAdminSid)
	x.FriendlyName = "Mixed Case"
	mustCreate(t, old, x)
	assert.Equal(t, x.Sid, resolveSid(t, st, store.ByID, "Mixed Case"))
	assert.Empty(t, resolveSid(t, st, store.ByID, "mixed case"))

	// nothing changed: nothing re-keyed
	reindexed, err = st.SetCollation(ctx, collation.Exact)
	require.NoError(t, err)
	assert.Zero(t, reindexed)
}

// Reservations: a SID or e-mail address RestComm holds and the gateway
// does not is refused to a create, under the rule.
func TestReservationsRefuseCreates(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	_, err := st.SetCollation(ctx, collation.Latin1SwedishCI)
	require.NoError(t, err)
	held := account("held@acme.com", store.DefaultAdminSid)
	other := account("other@acme.com", store.DefaultAdminSid)
	require.NoError(t, st.ReplaceReservations(ctx, []store.Reservation{
		{Sid: held.Sid, Email: "HELD@acme.com ", Reason: "shared e-mail"},
		{Sid: other.Sid, Reason: "null email_address"},
	}))
	rs, err := st.Reservations(ctx)
	require.NoError(t, err)
	assert.Len(t, rs, 2)
	for _, a := range []*store.Account{held, other} {
		_, err := st.CreateAccount(ctx, nil, a)
		assert.ErrorIs(t, err, store.ErrDuplicate, a.EmailAddress)
	}
	byEmail := account("held@acme.com", store.DefaultAdminSid)
	byEmail.Sid = "AC" + md5hex("another sid")
	_, err = st.CreateAccount(ctx, nil, byEmail)
	assert.ErrorIs(t, err, store.ErrDuplicate)

	// the next import's reservations replace these
	require.NoError(t, st.ReplaceReservations(ctx, nil))
	mustCreate(t, st, held)
	assert.Equal(t, held.Sid, resolveSid(t, st, store.ByLogin, "Held@Acme.com"))

	// a row without a readable SID, an address with a newline: each kept
	// whole, and listed as given
	odd := []store.Reservation{
		{Email: "no.sid@acme.com", Reason: "unreadable row"},
		{Email: "also.no.sid@acme.com", Reason: "unreadable row"},
		{Sid: other.Sid, Email: "line\nbreak@acme.com", Reason: "control character\nin e-mail"},
	}
	require.NoError(t, st.ReplaceReservations(ctx, odd))
	rs, err = st.Reservations(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, odd, rs)
	noSid := account("no.sid@acme.com", store.DefaultAdminSid)
	_, err = st.CreateAccount(ctx, nil, noSid)
	assert.ErrorIs(t, err, store.ErrDuplicate)

	// a reserved address that an imported account shares: RestComm's
	// lookup finds two rows, so the gateway finds it ambiguous too
	require.NoError(t, st.ReplaceReservations(ctx, []store.Reservation{{Sid: "AC" + md5hex("skipped twin"), Email: "HELD@acme.com", Reason: "status"}}))
	assert.Equal(t, "ambiguous", resolveSid(t, st, store.ByLogin, "held@acme.com"))
	assert.Equal(t, held.Sid, resolveSid(t, st, store.ByLogin, held.Sid), "by SID it is found")
}

// BenchmarkReKey100k: re-keying a namespace of 100,000 accounts under
// another rule (go test ./store -run XXX -bench ReKey -benchtime 3x).
func BenchmarkReKey100k(b *testing.B) {
	srv := redistest.Start(b)
	st := store.New(srv.Client(b), "")
	_, err := st.Seed(ctx, "")
	require.NoError(b, err)
	const n, batch = 100_000, 500
	var batches [][]store.Account
	for i := 0; i < n; i += batch {
		var as []store.Account
		for j := i; j < i+batch; j++ {
			a := account(fmt.Sprintf("User.%d@Example.com", j), store.DefaultAdminSid)
			a.FriendlyName = fmt.Sprintf("User %d", j)
			as = append(as, *a)
		}
		batches = append(batches, as)
	}
	_, err = st.ImportAccounts(ctx, batches, store.ImportOptions{})
	require.NoError(b, err)
	rules := []collation.Rule{collation.Latin1SwedishCI, collation.Exact}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := st.SetCollation(ctx, rules[i%2])
		require.NoError(b, err)
		require.Equal(b, n+1, got)
	}
}

// A store that has not read the namespace's rule learns it from the first
// script that refuses its keys, whatever the operation: an import (dry or
// not), a create, a lookup.
func TestEveryOperationLearnsTheRule(t *testing.T) {
	t.Parallel()
	st, srv := newStore(t)
	_, err := st.SetCollation(ctx, collation.Latin1SwedishCI)
	require.NoError(t, err)
	a := *account("learner@acme.com", store.DefaultAdminSid)
	for _, dry := range []bool{true, false} {
		fresh := store.New(srv.Client(t), "")
		res, err := fresh.ImportAccounts(ctx, [][]store.Account{{a}}, store.ImportOptions{DryRun: dry})
		require.NoError(t, err, "dry run %v", dry)
		assert.Equal(t, store.Imported, res[0][0].Outcome)
		assert.Equal(t, collation.Latin1SwedishCI, fresh.Collation())
	}
	fresh := store.New(srv.Client(t), "")
	_, err = fresh.CreateAccount(ctx, nil, account("LEARNER@acme.com", store.DefaultAdminSid))
	assert.ErrorIs(t, err, store.ErrDuplicate, "the e-mail, as the rule compares it")
	fresh = store.New(srv.Client(t), "")
	assert.Equal(t, a.Sid, resolveSid(t, fresh, store.ByLogin, "Learner@Acme.com"))
}

// A namespace whose index layout is newer than this code knows is refused,
// never re-keyed nor read under a guessed layout: P keys and the indexes
// stay as the newer gateway wrote them.
func TestNewerLayoutIsRefused(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	st := store.New(rdb, "")
	_, err := st.Seed(ctx, "")
	require.NoError(t, err)
	require.NoError(t, rdb.Set(ctx, "{restcomm}:keys", "3:exact", 0).Err())
	before, err := rdb.Keys(ctx, "{restcomm}:emails:*").Result()
	require.NoError(t, err)

	st = store.New(rdb, "")
	_, err = st.OpenKeys(ctx, nil)
	require.ErrorIs(t, err, store.ErrNewerLayout)
	assert.ErrorContains(t, err, `P keys is "3:exact", this gateway reads layouts 1 and 2`)
	_, err = st.OpenKeys(ctx, &collation.Latin1SwedishCI)
	require.ErrorIs(t, err, store.ErrNewerLayout, "an imposed rule does not re-key it either")
	_, err = st.SetCollation(ctx, collation.Exact)
	require.ErrorIs(t, err, store.ErrNewerLayout)
	_, err = st.NamespaceCollation(ctx)
	require.ErrorIs(t, err, store.ErrNewerLayout)

	assert.Equal(t, "3:exact", rdb.Get(ctx, "{restcomm}:keys").Val())
	after, err := rdb.Keys(ctx, "{restcomm}:emails:*").Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, before, after, "nothing re-keyed")
}
