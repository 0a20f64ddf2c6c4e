package importer

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/internal/testkit/mariadbtest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// loadMariaDB starts a MariaDB with RestComm's tables holding d and
// returns its URL and root connection.
func loadMariaDB(t testing.TB, d *restcommtest.Dataset) (string, *sql.DB) {
	srv := mariadbtest.Start(t)
	url := srv.Database(t, "restcomm")
	db := srv.DB(t, "restcomm")
	ctx := context.Background()
	require.NoError(t, restcommtest.CreateSchema(ctx, db))
	require.NoError(t, d.Insert(ctx, db))
	return url, db
}

// expected is the account the gateway must hold for a row.
func expected(t testing.TB, a restcommtest.Account, loc *time.Location) store.Account {
	parse := func(s string) time.Time {
		tm, err := time.ParseInLocation(time.DateTime, s, loc)
		require.NoError(t, err)
		return tm.UTC()
	}
	return store.Account{Sid: a.Sid, OrganizationSid: a.Org, FriendlyName: a.FriendlyName, EmailAddress: a.Email,
		Type: a.Type, Status: a.Status, Role: a.Role, AuthToken: a.Token, URI: a.URI, ParentSid: a.ParentSid,
		DateCreated: parse(a.Created), DateUpdated: parse(a.Updated)}
}

// checkImported checks that st holds every importable row of d, with every
// index entry, found by e-mail as rule compares (ambiguous when shared),
// and lists children in RestComm's order; that the report names every bad
// row with its reason, and that they are reserved.
func checkImported(t *testing.T, st *store.Store, rdb redis.UniversalClient, d *restcommtest.Dataset, r *Report, loc *time.Location, rule collation.Rule) {
	ctx := context.Background()
	good := d.Importable()
	assert.Equal(t, len(d.Accounts), r.Accounts.Read)
	assert.Equal(t, len(good), r.Accounts.Imported, "imported")
	assert.Equal(t, 2, r.Organizations.Imported)
	assert.Empty(t, r.Conflicts)
	assert.Equal(t, rule, r.Collation)
	assert.Equal(t, rule, st.Collation())

	type skipped struct{ sid, reason string }
	var want, got []skipped
	var shared []string
	for _, a := range d.Accounts {
		switch a.Bad {
		case "":
		case restcommtest.SharedEmail:
			shared = append(shared, a.Sid)
		default:
			want = append(want, skipped{a.Sid, a.Bad})
		}
	}
	for _, s := range r.Skipped {
		assert.NotEmpty(t, s.Where, "the row is named")
		got = append(got, skipped{s.Sid, s.Reason})
	}
	less := func(a, b skipped) int { return strings.Compare(a.sid+a.reason, b.sid+b.reason) }
	slices.SortFunc(want, less)
	slices.SortFunc(got, less)
	assert.Equal(t, want, got, "every bad row is reported with its reason, and only those")
	assert.Equal(t, len(want), r.Accounts.Skipped)
	sort.Strings(shared)
	require.Len(t, r.Shared, 1)
	assert.Equal(t, shared, r.Shared[0].Sids, "the accounts sharing an e-mail address are listed")

	// every skipped row is reserved, with its reason
	rs, err := st.Reservations(ctx)
	require.NoError(t, err)
	var reserved []skipped
	for _, x := range rs {
		reserved = append(reserved, skipped{x.Sid, x.Reason})
	}
	slices.SortFunc(reserved, less)
	assert.Equal(t, want, reserved, "the skipped rows are reserved")

	children := map[string][]string{}
	for _, a := range good {
		exp := expected(t, a, loc)
		acct, err := st.Account(ctx, a.Sid)
		require.NoError(t, err, a.Sid)
		assert.Equal(t, exp, *acct)
		p := "{restcomm}:"
		// logins by e-mail as the source's database finds them
		other := strings.ToUpper(a.Email) + " "
		res, err := st.Resolve(ctx, store.Lookup{Mode: store.ByLogin, ID: a.Email}, store.Lookup{Mode: store.ByLogin, ID: other},
			store.Lookup{Mode: store.ByLogin, ID: a.Sid})
		require.NoError(t, err)
		require.NotNil(t, res[2].Account, "%s by SID", a.Sid)
		assert.Equal(t, a.Sid, res[2].Account.Sid)
		switch {
		case a.Bad == restcommtest.SharedEmail:
			assert.True(t, res[0].Ambiguous, "%s: a shared e-mail address is ambiguous", a.Email)
		case rule.Equal(a.Email, other):
			require.NotNil(t, res[1].Account, "%q finds %q under %s", other, a.Email, rule)
			assert.Equal(t, a.Sid, res[1].Account.Sid)
			fallthrough
		default:
			require.NotNil(t, res[0].Account, a.Email)
			assert.Equal(t, a.Sid, res[0].Account.Sid)
		}
		if !rule.Equal(a.Email, other) {
			assert.Nil(t, res[1].Account, "%q does not find %q under %s", other, a.Email, rule)
		}
		assert.NotEqual(t, redis.Nil, rdb.ZScore(ctx, p+"fname:"+rule.Key(a.FriendlyName), a.Sid).Err(), "friendly-name index")
		assert.NotEqual(t, redis.Nil, rdb.ZScore(ctx, p+"orgacc:"+a.Org, a.Sid).Err(), "organization members")
		if a.ParentSid != "" {
			children[a.ParentSid] = append(children[a.ParentSid], a.Sid)
		}
	}
	for parent, kids := range children {
		sort.Strings(kids)
		list, err := st.Children(ctx, parent)
		require.NoError(t, err)
		var sids []string
		for _, k := range list {
			sids = append(sids, k.Sid)
		}
		assert.Equal(t, kids, sids, "children of %s in SID order", parent)
	}
	for _, a := range d.Accounts {
		if a.Bad != "" && a.Bad != restcommtest.SharedEmail {
			_, err := st.Account(ctx, a.Sid)
			assert.ErrorIs(t, err, store.ErrNotFound, "bad row %s (%s) is not imported", a.Sid, a.Bad)
		}
	}
	orgs, err := st.Organizations(ctx)
	require.NoError(t, err)
	require.Len(t, orgs, 2)
	assert.Equal(t, "acme.example.com", orgs[0].DomainName, "SID order")
	o, err := st.OrganizationByDomain(ctx, "ACME.example.com.")
	require.NoError(t, err)
	assert.Equal(t, restcommtest.OtherOrg, o.Sid)
}

func TestImportFromMariaDB(t *testing.T) {
	d := restcommtest.Generate(1000, true)
	url, db := loadMariaDB(t, d)
	rd := redistest.Start(t)
	rdb := rd.Client(t)
	st := store.New(rdb, "")
	ctx := context.Background()

	src, err := restcommdb.ReadMySQL(ctx, url)
	require.NoError(t, err)
	var progress []int
	r, err := Run(ctx, st, src, Options{Progress: func(done, total int) { progress = append(progress, done) }})
	require.NoError(t, err)
	checkImported(t, st, rdb, d, r, time.UTC, collation.Latin1SwedishCI)
	assert.Equal(t, "none", r.MarkerBefore)
	assert.Equal(t, len(d.Importable()), progress[len(progress)-1])
	var out bytes.Buffer
	r.Write(&out)
	assert.Contains(t, out.String(), "comparison rule: latin1_swedish_ci (restcomm_accounts.email_address collation latin1_swedish_ci); recorded in the namespace")
	assert.Contains(t, out.String(), "e-mail shared (login by e-mail refused as ambiguous; reachable by SID): 1 addresses, 2 accounts")
	assert.Contains(t, out.String(), fmt.Sprintf("reserved (RestComm's database holds them: a create at the gateway answers 409): %d", len(r.Skipped)))

	// the namespace is marked: a gateway's Init finds it so and seeds nothing
	res, err := st.Init(ctx, store.InitOptions{Seed: true, By: "gateway"})
	require.NoError(t, err)
	assert.Equal(t, store.NamespaceMarked, res.State)
	m, err := st.Marker(ctx)
	require.NoError(t, err)
	assert.Equal(t, "accounts import", m.By)

	// a second run changes nothing and says so
	src, err = restcommdb.ReadMySQL(ctx, url)
	require.NoError(t, err)
	r, err = Run(ctx, st, src, Options{})
	require.NoError(t, err)
	assert.Equal(t, len(d.Importable()), r.Accounts.Unchanged)
	assert.Zero(t, r.Accounts.Imported+r.Accounts.Updated+r.Accounts.Conflicts)
	assert.Zero(t, r.Reindexed)
	assert.False(t, r.Changed())
	out.Reset()
	r.Write(&out)
	assert.Contains(t, out.String(), "nothing to change")
	t.Log("\n" + out.String()[:min(out.Len(), 3000)])

	// changed in RestComm: updated; changed at the gateway: a conflict
	good := d.Good()
	inRestComm, atGateway := good[5], good[6]
	_, err = db.Exec("UPDATE restcomm_accounts SET friendly_name = 'renamed in RestComm', date_updated = '2020-01-01 00:00:00' WHERE sid = ?", inRestComm.Sid)
	require.NoError(t, err)
	_, err = db.Exec("UPDATE restcomm_accounts SET status = 'suspended' WHERE sid = ?", atGateway.Sid)
	require.NoError(t, err)
	name := "renamed at the gateway"
	_, err = st.UpdateAccount(ctx, nil, atGateway.Sid, store.AccountUpdate{FriendlyName: &name, Now: time.Now()})
	require.NoError(t, err)
	src, err = restcommdb.ReadMySQL(ctx, url)
	require.NoError(t, err)
	r, err = Run(ctx, st, src, Options{})
	require.NoError(t, err)
	assert.Equal(t, 1, r.Accounts.Updated)
	assert.Equal(t, 1, r.Accounts.Conflicts)
	require.Len(t, r.Conflicts, 1)
	assert.Equal(t, atGateway.Sid, r.Conflicts[0].Sid)
	assert.Contains(t, r.Conflicts[0].Detail, "fname")
	a, err := st.Account(ctx, inRestComm.Sid)
	require.NoError(t, err)
	assert.Equal(t, "renamed in RestComm", a.FriendlyName)
	list, err := st.Children(ctx, inRestComm.ParentSid)
	require.NoError(t, err)
	_ = list
	fname := func(name string) string { return "{restcomm}:fname:" + collation.Latin1SwedishCI.Key(name) }
	sids, err := rdb.ZRange(ctx, fname("renamed in RestComm"), 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{inRestComm.Sid}, sids, "the friendly-name index moved")
	assert.Equal(t, redis.Nil, rdb.ZScore(ctx, fname(inRestComm.FriendlyName), inRestComm.Sid).Err())
	a, err = st.Account(ctx, atGateway.Sid)
	require.NoError(t, err)
	assert.Equal(t, name, a.FriendlyName, "the gateway's change is left alone")
	assert.Equal(t, "active", a.Status)

	// --overwrite writes the source over it
	r, err = Run(ctx, st, src, Options{Overwrite: true})
	require.NoError(t, err)
	assert.Equal(t, 1, r.Accounts.Updated)
	assert.Zero(t, r.Accounts.Conflicts)
	a, err = st.Account(ctx, atGateway.Sid)
	require.NoError(t, err)
	assert.Equal(t, atGateway.FriendlyName, a.FriendlyName)
	assert.Equal(t, "suspended", a.Status)
}

func TestImportFromHSQLDBScript(t *testing.T) {
	d := restcommtest.Generate(1000, true)
	// non-Latin-1 text only HSQLDB can hold
	d.Accounts[3].FriendlyName = "日本語 😀 \\u0041 O'Neil"
	path := filepath.Join(t.TempDir(), "restcomm.script")
	require.NoError(t, os.WriteFile(path, []byte(d.Script()), 0o600))
	rd := redistest.Start(t)
	rdb := rd.Client(t)
	st := store.New(rdb, "")
	ctx := context.Background()

	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	src, err := restcommdb.Read(ctx, path)
	require.NoError(t, err)
	r, err := Run(ctx, st, src, Options{TimeZone: paris})
	require.NoError(t, err)
	checkImported(t, st, rdb, d, r, paris, collation.Exact)
	var out bytes.Buffer
	r.Write(&out)
	for _, a := range d.Accounts {
		if a.Bad != "" && a.Bad != restcommtest.SharedEmail {
			assert.Contains(t, out.String(), a.Bad)
		}
	}
}

func TestImportPre82IntoTheDefaultOrganization(t *testing.T) {
	d := restcommtest.Generate(20, false)
	srv := mariadbtest.Start(t)
	url := srv.Database(t, "restcomm")
	db := srv.DB(t, "restcomm")
	for _, stmt := range restcommdb.SchemaPre82 {
		_, err := db.Exec(stmt)
		require.NoError(t, err)
	}
	for _, a := range d.Accounts {
		var parent any
		if a.ParentSid != "" {
			parent = a.ParentSid
		}
		_, err := db.Exec("INSERT INTO restcomm_accounts VALUES (?,?,?,?,?,?,?,?,?,?,?)", a.Sid, a.Created, a.Updated,
			a.Email, a.FriendlyName, parent, a.Type, a.Status, a.Token, a.Role, a.URI)
		require.NoError(t, err)
	}
	rd := redistest.Start(t)
	st := store.New(rd.Client(t), "")
	ctx := context.Background()
	src, err := restcommdb.ReadMySQL(ctx, url)
	require.NoError(t, err)
	r, err := Run(ctx, st, src, Options{})
	require.NoError(t, err)
	assert.True(t, r.PreOrganizations)
	assert.True(t, r.DefaultOrganizationCreated)
	assert.Equal(t, len(d.Accounts), r.Accounts.Imported)
	members, err := st.OrganizationAccounts(ctx, store.DefaultOrganizationSid)
	require.NoError(t, err)
	assert.Len(t, members, len(d.Accounts))
	o, err := st.Organization(ctx, store.DefaultOrganizationSid)
	require.NoError(t, err)
	assert.Equal(t, "default.restcomm.com", o.DomainName)
}

func TestImportOverASeededNamespace(t *testing.T) {
	ctx := context.Background()
	rd := redistest.Start(t)
	st := store.New(rd.Client(t), "")
	_, err := st.Init(ctx, store.InitOptions{Seed: true, Domain: "gw.example.com", By: "gateway"})
	require.NoError(t, err)

	// the source's administrator (activated, a new password) replaces the
	// seeded one; its default organization replaces the seeded one
	d := restcommtest.Generate(10, false)
	src, err := restcommdb.ReadHSQLDB(strings.NewReader(d.Script()), "restcomm.script")
	require.NoError(t, err)
	r, err := Run(ctx, st, src, Options{})
	require.NoError(t, err)
	assert.Equal(t, 1, r.Accounts.Updated, "the seeded administrator")
	assert.Equal(t, len(d.Accounts)-1, r.Accounts.Imported)
	assert.Equal(t, 1, r.Organizations.Updated, "the seeded organization")
	assert.Empty(t, r.Conflicts)
	admin, err := st.Account(ctx, store.DefaultAdminSid)
	require.NoError(t, err)
	assert.Equal(t, "active", admin.Status)

	// a source without an administrator: the seeded one (password
	// RestComm) goes
	rd2 := redistest.Start(t)
	st2 := store.New(rd2.Client(t), "")
	_, err = st2.Init(ctx, store.InitOptions{Seed: true, By: "gateway"})
	require.NoError(t, err)
	src.Accounts = src.Accounts[1:]
	src.Accounts = slices.DeleteFunc(src.Accounts, func(a restcommdb.Account) bool { return a.Sid == store.DefaultAdminSid })
	r, err = Run(ctx, st2, src, Options{})
	require.NoError(t, err)
	assert.True(t, r.SeededAdminRemoved)
	_, err = st2.Account(ctx, store.DefaultAdminSid)
	assert.ErrorIs(t, err, store.ErrNotFound)
	taken, err := st2.AccountTaken(ctx, store.DefaultAdminSid, store.DefaultAdminEmail)
	require.NoError(t, err)
	assert.False(t, taken, "its e-mail index entry went with it")
}

func TestDryRunWritesNothing(t *testing.T) {
	ctx := context.Background()
	rd := redistest.Start(t)
	rdb := rd.Client(t)
	st := store.New(rdb, "")
	d := restcommtest.Generate(50, true)
	src, err := restcommdb.ReadHSQLDB(strings.NewReader(d.Script()), "restcomm.script")
	require.NoError(t, err)
	r, err := Run(ctx, st, src, Options{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, len(d.Importable()), r.Accounts.Imported, "what an import would do")
	assert.NotEmpty(t, r.Reservations, "what it would reserve")
	assert.Zero(t, rdb.DBSize(ctx).Val(), "nothing written")
	var out bytes.Buffer
	r.Write(&out)
	assert.Contains(t, out.String(), "comparison rule: exact (HSQLDB's default collation (the script sets none): exact); would be recorded in the namespace, no index re-keyed")
	assert.Contains(t, out.String(), "would be reserved")

	// into a namespace keyed by another rule: the report says it would
	// re-key, and nothing changes
	_, err = Run(ctx, st, src, Options{Collation: &collation.Latin1SwedishCI})
	require.NoError(t, err)
	before := rdb.DBSize(ctx).Val()
	r, err = Run(ctx, st, src, Options{DryRun: true})
	require.NoError(t, err)
	assert.True(t, r.RuleChanges)
	assert.Equal(t, before, rdb.DBSize(ctx).Val())
	rule, err := st.NamespaceCollation(ctx)
	require.NoError(t, err)
	assert.Equal(t, collation.Latin1SwedishCI, *rule, "a dry run records no rule")
	out.Reset()
	r.Write(&out)
	assert.Contains(t, out.String(), "would be recorded in the namespace, re-keying its indexes")
}

func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	rd := redistest.Start(t)
	st := store.New(rd.Client(t), "")
	d := restcommtest.Generate(200, true)
	src, err := restcommdb.ReadHSQLDB(strings.NewReader(d.Script()), "restcomm.script")
	require.NoError(t, err)
	_, err = Run(ctx, st, src, Options{})
	require.NoError(t, err)

	var buf bytes.Buffer
	n, err := Export(ctx, st, &buf, "{restcomm}")
	require.NoError(t, err)
	skipped := len(d.Accounts) - len(d.Importable())
	assert.Equal(t, ExportCounts{Organizations: 2, Accounts: len(d.Importable()), Reservations: skipped}, n)
	assert.Contains(t, strings.SplitN(buf.String(), "\n", 2)[0], `"collation":"exact"`, "the header records the rule")

	// into the same namespace: nothing changes
	back, err := restcommdb.ReadJSONL(bytes.NewReader(buf.Bytes()), "backup.jsonl")
	require.NoError(t, err)
	r, err := Run(ctx, st, back, Options{})
	require.NoError(t, err)
	assert.Equal(t, len(d.Importable()), r.Accounts.Unchanged)
	assert.False(t, r.Changed())
	assert.Empty(t, r.Skipped)

	// into an empty one: the same accounts, under the same rule
	rd2 := redistest.Start(t)
	st2 := store.New(rd2.Client(t), "other")
	r, err = Run(ctx, st2, back, Options{})
	require.NoError(t, err)
	assert.Equal(t, len(d.Importable()), r.Accounts.Imported)
	assert.Equal(t, collation.Exact, r.Collation)
	want, err := st.Reservations(ctx)
	require.NoError(t, err)
	got, err := st2.Reservations(ctx)
	require.NoError(t, err)
	assert.Len(t, got, skipped)
	assert.Equal(t, want, got, "a restore keeps the reservations")
	for _, a := range d.Importable() {
		x, err := st.Account(ctx, a.Sid)
		require.NoError(t, err)
		y, err := st2.Account(ctx, a.Sid)
		require.NoError(t, err)
		assert.Equal(t, x, y)
	}
}
