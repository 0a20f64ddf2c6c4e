package store_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
)

var ctx = context.Background()

func newStore(t *testing.T) (*store.Store, *redistest.Server) {
	t.Helper()
	srv := redistest.Start(t)
	st := store.New(srv.Client(t), "")
	_, err := st.Seed(ctx, "")
	require.NoError(t, err)
	return st, srv
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func account(email, parent string) *store.Account {
	sid := "AC" + md5hex(email)
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	return &store.Account{
		Sid: sid, OrganizationSid: store.DefaultOrganizationSid, FriendlyName: email,
		EmailAddress: email, Type: "Full", Status: store.StatusActive, Role: "Administrator",
		AuthToken: md5hex("RestComm12"), URI: "/2012-04-24/Accounts/" + sid, ParentSid: parent,
		DateCreated: now, DateUpdated: now,
	}
}

func mustCreate(t *testing.T, st *store.Store, a *store.Account) *store.Account {
	t.Helper()
	got, err := st.CreateAccount(ctx, nil, a)
	require.NoError(t, err)
	return got
}

func TestSeedCreatesRestCommDefaults(t *testing.T) {
	st, _ := newStore(t)
	admin, err := st.Account(ctx, store.DefaultAdminSid)
	require.NoError(t, err)
	assert.Equal(t, "administrator@company.com", admin.EmailAddress)
	assert.Equal(t, "uninitialized", admin.Status)
	assert.Equal(t, "77f8c12cc7b8f8423e5c38b035249166", admin.AuthToken)
	assert.Equal(t, "Administrator", admin.Role)
	assert.Empty(t, admin.ParentSid)
	assert.Equal(t, time.Date(2012, 4, 24, 0, 0, 0, 0, time.UTC), admin.DateCreated)
	org, err := st.Organization(ctx, store.DefaultOrganizationSid)
	require.NoError(t, err)
	assert.Equal(t, "default.restcomm.com", org.DomainName)

	// A second seed changes nothing, even with another domain.
	res, err := st.Seed(ctx, "other.example.com")
	require.NoError(t, err)
	assert.Equal(t, store.SeedResult{}, res)
	org, err = st.Organization(ctx, store.DefaultOrganizationSid)
	require.NoError(t, err)
	assert.Equal(t, "default.restcomm.com", org.DomainName)
}

func TestSeedNeverOverwrites(t *testing.T) {
	st, _ := newStore(t)
	tok := md5hex("Changed12")
	_, err := st.UpdateAccount(ctx, nil, store.DefaultAdminSid, store.AccountUpdate{AuthToken: &tok, Now: time.Now()})
	require.NoError(t, err)
	_, err = st.Seed(ctx, "")
	require.NoError(t, err)
	admin, err := st.Account(ctx, store.DefaultAdminSid)
	require.NoError(t, err)
	assert.Equal(t, tok, admin.AuthToken)
	assert.Equal(t, "active", admin.Status)
}

// Ten gateways seeding one empty Redis at once leave exactly one admin and
// one organization.
func TestConcurrentSeed(t *testing.T) {
	srv := redistest.Start(t)
	var wg sync.WaitGroup
	results := make([]store.SeedResult, 10)
	errs := make([]error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := store.New(srv.Client(t), "")
			results[i], errs[i] = st.Seed(ctx, fmt.Sprintf("gw%d.example.com", i))
		}()
	}
	wg.Wait()
	orgs, admins := 0, 0
	for i := range 10 {
		require.NoError(t, errs[i])
		if results[i].Organization {
			orgs++
		}
		if results[i].Admin {
			admins++
		}
	}
	assert.Equal(t, 1, orgs)
	assert.Equal(t, 1, admins)
	rdb := srv.Client(t)
	keys, err := rdb.Keys(ctx, "{restcomm}:acct:*").Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"{restcomm}:acct:" + store.DefaultAdminSid}, keys)
	keys, err = rdb.Keys(ctx, "{restcomm}:org:*").Result()
	require.NoError(t, err)
	assert.Len(t, keys, 1)
	n, err := rdb.ZCard(ctx, "{restcomm}:orgs").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	n, err = rdb.Exists(ctx, "{restcomm}:emails:administrator@company.com").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
}

func TestResolveModes(t *testing.T) {
	st, _ := newStore(t)
	child := mustCreate(t, st, account("child@company.com", store.DefaultAdminSid))
	grand := account("grand@company.com", child.Sid)
	grand.FriendlyName = "Grand Child"
	mustCreate(t, st, grand)

	res, err := st.Resolve(ctx,
		store.Lookup{Mode: store.ByLogin, ID: "grand@company.com"},
		store.Lookup{Mode: store.ByLogin, ID: grand.Sid},
		store.Lookup{Mode: store.ByLogin, ID: "Grand Child"}, // friendly names never log in
		store.Lookup{Mode: store.ByLogin, ID: "GRAND@company.com"},
		store.Lookup{Mode: store.ByID, ID: "Grand Child"},
		store.Lookup{Mode: store.ByID, ID: "grand@company.com"},
		store.Lookup{Mode: store.ByID, ID: "AC0000000000000000000000000000dead"},
		store.Lookup{Mode: store.ByID, ID: grand.Sid},
	)
	require.NoError(t, err)
	require.Len(t, res, 8)
	for _, i := range []int{0, 1, 4, 5, 7} {
		require.NotNil(t, res[i].Account, "lookup %d", i)
		assert.Equal(t, grand.Sid, res[i].Account.Sid, "lookup %d", i)
		assert.Equal(t, []string{child.Sid, store.DefaultAdminSid}, res[i].Ancestors, "lookup %d", i)
	}
	for _, i := range []int{2, 3, 6} {
		assert.Nil(t, res[i].Account, "lookup %d", i)
	}
}

func TestResolveAmbiguousFriendlyName(t *testing.T) {
	st, _ := newStore(t)
	for _, e := range []string{"a@x.com", "b@x.com"} {
		a := account(e, store.DefaultAdminSid)
		a.FriendlyName = "twin"
		mustCreate(t, st, a)
	}
	res, err := st.Resolve(ctx, store.Lookup{Mode: store.ByID, ID: "twin"})
	require.NoError(t, err)
	assert.True(t, res[0].Ambiguous)
	assert.Nil(t, res[0].Account)
}

func TestCreateRefusesDuplicatesAndWritesNothing(t *testing.T) {
	st, srv := newStore(t)
	a := mustCreate(t, st, account("new@company.com", store.DefaultAdminSid))
	assert.Equal(t, "new@company.com", a.EmailAddress)

	rdb := srv.Client(t)
	before, err := rdb.DBSize(ctx).Result()
	require.NoError(t, err)

	_, err = st.CreateAccount(ctx, nil, account("new@company.com", store.DefaultAdminSid))
	assert.ErrorIs(t, err, store.ErrDuplicate)

	// Same e-mail under another SID: the index catches what RestComm misses.
	other := account("new@company.com", store.DefaultAdminSid)
	other.Sid = "AC11111111111111111111111111111111"
	_, err = st.CreateAccount(ctx, nil, other)
	assert.ErrorIs(t, err, store.ErrDuplicate)

	noorg := account("x@company.com", store.DefaultAdminSid)
	noorg.OrganizationSid = "ORafbe225ad37541eba518a74248f01234"
	_, err = st.CreateAccount(ctx, nil, noorg)
	assert.ErrorIs(t, err, store.ErrNoOrganization)

	noparent := account("y@company.com", "AC0000000000000000000000000000dead")
	_, err = st.CreateAccount(ctx, nil, noparent)
	assert.ErrorIs(t, err, store.ErrNoParent)

	after, err := rdb.DBSize(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, before, after, "a refused create leaves no key behind")
}

// Fifty concurrent creates of one e-mail: exactly one wins, one account
// and one index entry remain.
func TestConcurrentCreateOfOneEmail(t *testing.T) {
	st, srv := newStore(t)
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.CreateAccount(ctx, nil, account("race@company.com", store.DefaultAdminSid))
		}()
	}
	wg.Wait()
	ok, dup := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrDuplicate):
			dup++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	assert.Equal(t, 1, ok)
	assert.Equal(t, 49, dup)
	rdb := srv.Client(t)
	keys, err := rdb.Keys(ctx, "{restcomm}:emails:race@company.com").Result()
	require.NoError(t, err)
	assert.Len(t, keys, 1)
	kids, err := st.Children(ctx, store.DefaultAdminSid)
	require.NoError(t, err)
	assert.Len(t, kids, 1)
}

func TestChildrenAndOrganizationListsAreInSidOrder(t *testing.T) {
	st, _ := newStore(t)
	for _, e := range []string{"c@x.com", "a@x.com", "b@x.com", "d@x.com"} {
		mustCreate(t, st, account(e, store.DefaultAdminSid))
	}
	kids, err := st.Children(ctx, store.DefaultAdminSid)
	require.NoError(t, err)
	require.Len(t, kids, 4)
	for i := 1; i < len(kids); i++ {
		assert.Less(t, kids[i-1].Sid, kids[i].Sid)
	}
	all, err := st.OrganizationAccounts(ctx, store.DefaultOrganizationSid)
	require.NoError(t, err)
	assert.Len(t, all, 5) // the admin too
	for i := 1; i < len(all); i++ {
		assert.Less(t, all[i-1].Sid, all[i].Sid)
	}
	empty, err := st.Children(ctx, kids[0].Sid)
	require.NoError(t, err)
	assert.Empty(t, empty)
}

func strp(s string) *string { return &s }

func TestUpdateCascadesStatusAndKeepsClosedTerminal(t *testing.T) {
	st, _ := newStore(t)
	child := mustCreate(t, st, account("child@company.com", store.DefaultAdminSid))
	grand := mustCreate(t, st, account("grand@company.com", child.Sid))
	now := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)

	got, err := st.UpdateAccount(ctx, nil, child.Sid, store.AccountUpdate{Status: strp("suspended"), Now: now})
	require.NoError(t, err)
	assert.Equal(t, "suspended", got.Status)
	assert.Equal(t, now, got.DateUpdated)
	assert.Equal(t, child.DateCreated, got.DateCreated)
	g, err := st.Account(ctx, grand.Sid)
	require.NoError(t, err)
	assert.Equal(t, "suspended", g.Status)

	_, err = st.UpdateAccount(ctx, nil, child.Sid, store.AccountUpdate{Status: strp("closed"), Now: now})
	require.NoError(t, err)
	_, err = st.UpdateAccount(ctx, nil, child.Sid, store.AccountUpdate{FriendlyName: strp("x"), Now: now})
	assert.ErrorIs(t, err, store.ErrClosed)
	_, err = st.UpdateAccount(ctx, nil, "AC0000000000000000000000000000dead", store.AccountUpdate{Now: now})
	assert.ErrorIs(t, err, store.ErrNotFound)

	// An ancestor's change still overwrites a closed descendant (RestComm).
	tok := md5hex("RestComm12")
	admin, err := st.UpdateAccount(ctx, nil, store.DefaultAdminSid, store.AccountUpdate{AuthToken: &tok, Status: strp("suspended"), Now: now})
	require.NoError(t, err)
	assert.Equal(t, "active", admin.Status, "a password on an uninitialized account activates it")
	g, err = st.Account(ctx, grand.Sid)
	require.NoError(t, err)
	assert.Equal(t, "active", g.Status)
}

func TestUpdateMovesFriendlyNameIndex(t *testing.T) {
	st, _ := newStore(t)
	child := mustCreate(t, st, account("child@company.com", store.DefaultAdminSid))
	_, err := st.UpdateAccount(ctx, nil, child.Sid, store.AccountUpdate{FriendlyName: strp("renamed"), Now: time.Now()})
	require.NoError(t, err)
	res, err := st.Resolve(ctx,
		store.Lookup{Mode: store.ByID, ID: "renamed"},
		store.Lookup{Mode: store.ByID, ID: "child@company.com"})
	require.NoError(t, err)
	require.NotNil(t, res[0].Account)
	assert.Equal(t, child.Sid, res[0].Account.Sid)
	// the old name was the e-mail, which still resolves by e-mail
	require.NotNil(t, res[1].Account)
}

// Concurrent status changes and renames of one account never lose a field.
func TestConcurrentUpdatesNeverLoseAField(t *testing.T) {
	st, _ := newStore(t)
	child := mustCreate(t, st, account("child@company.com", store.DefaultAdminSid))
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := store.AccountUpdate{Now: time.Now()}
			if i%2 == 0 {
				u.Status = strp([]string{"active", "suspended"}[i%4/2])
			} else {
				u.FriendlyName = strp(fmt.Sprintf("name-%d", i))
			}
			_, err := st.UpdateAccount(ctx, nil, child.Sid, u)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	got, err := st.Account(ctx, child.Sid)
	require.NoError(t, err)
	assert.Equal(t, child.EmailAddress, got.EmailAddress)
	assert.Equal(t, child.AuthToken, got.AuthToken)
	assert.Equal(t, child.Role, got.Role)
	assert.Equal(t, child.OrganizationSid, got.OrganizationSid)
	assert.Contains(t, []string{"active", "suspended"}, got.Status)
	assert.Regexp(t, `^name-\d+$`, got.FriendlyName)
	// exactly one friendly-name index entry points at the account
	res, err := st.Resolve(ctx, store.Lookup{Mode: store.ByID, ID: got.FriendlyName})
	require.NoError(t, err)
	require.NotNil(t, res[0].Account)
	assert.Equal(t, child.Sid, res[0].Account.Sid)
}

func TestMigrateMovesDirectChildrenOnly(t *testing.T) {
	st, _ := newStore(t)
	org1, err := st.CreateOrganization(ctx, nil, &store.Organization{Sid: "ORafbe225ad37541eba518a74248f0ac4d", DomainName: "org1.restcomm.com", Status: "active", DateCreated: time.Now(), DateUpdated: time.Now()})
	require.NoError(t, err)
	child := mustCreate(t, st, account("child@company.com", store.DefaultAdminSid))
	grand := mustCreate(t, st, account("grand@company.com", child.Sid))
	great := mustCreate(t, st, account("great@company.com", grand.Sid))

	got, err := st.MigrateAccount(ctx, nil, child.Sid, org1.Sid, time.Now())
	require.NoError(t, err)
	assert.Equal(t, org1.Sid, got.OrganizationSid)
	g, _ := st.Account(ctx, grand.Sid)
	assert.Equal(t, org1.Sid, g.OrganizationSid)
	gg, _ := st.Account(ctx, great.Sid)
	assert.Equal(t, store.DefaultOrganizationSid, gg.OrganizationSid, "RestComm does not recurse")

	members, err := st.OrganizationAccounts(ctx, org1.Sid)
	require.NoError(t, err)
	assert.Len(t, members, 2)

	_, err = st.MigrateAccount(ctx, nil, child.Sid, org1.Sid, time.Now())
	assert.ErrorIs(t, err, store.ErrSameOrg)
	_, err = st.MigrateAccount(ctx, nil, child.Sid, "ORafbe225ad37541eba518a74248f0ac99", time.Now())
	assert.ErrorIs(t, err, store.ErrNoOrganization)
}

func TestOrganizationsByDomainAndList(t *testing.T) {
	st, _ := newStore(t)
	_, err := st.CreateOrganization(ctx, nil, &store.Organization{Sid: "ORafbe225ad37541eba518a74248f0ac4d", DomainName: "org1.restcomm.com", Status: "active", DateCreated: time.Now(), DateUpdated: time.Now()})
	require.NoError(t, err)
	o, err := st.OrganizationByDomain(ctx, "ORG1.RESTCOMM.COM.")
	require.NoError(t, err)
	assert.Equal(t, "ORafbe225ad37541eba518a74248f0ac4d", o.Sid)
	_, err = st.OrganizationByDomain(ctx, "nope.example.com")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = st.CreateOrganization(ctx, nil, &store.Organization{Sid: "ORafbe225ad37541eba518a74248f0ac4e", DomainName: "Org1.Restcomm.com", Status: "active"})
	assert.ErrorIs(t, err, store.ErrDuplicate)
	all, err := st.Organizations(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, store.DefaultOrganizationSid, all[0].Sid)
}

func TestKeyPrefixIsAHashTag(t *testing.T) {
	srv := redistest.Start(t)
	st := store.New(srv.Client(t), "tenant-a")
	_, err := st.Seed(ctx, "")
	require.NoError(t, err)
	keys, err := srv.Client(t).Keys(ctx, "*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	for _, k := range keys {
		assert.Regexp(t, `^\{tenant-a\}:`, k)
	}
}

// Every script works on a real Redis Cluster: all keys share one slot.
func TestWorksOnRedisCluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	rdb, err := store.ClientOptions{URLs: cl.URLs()}.NewClient()
	require.NoError(t, err)
	defer rdb.Close()
	require.IsType(t, &redis.ClusterClient{}, rdb)
	st := store.New(rdb, "")
	_, err = st.Seed(ctx, "")
	require.NoError(t, err)
	child := mustCreate(t, st, account("child@company.com", store.DefaultAdminSid))
	mustCreate(t, st, account("grand@company.com", child.Sid))
	_, err = st.UpdateAccount(ctx, nil, child.Sid, store.AccountUpdate{Status: strp("suspended"), Now: time.Now()})
	require.NoError(t, err)
	res, err := st.Resolve(ctx, store.Lookup{Mode: store.ByLogin, ID: "grand@company.com"})
	require.NoError(t, err)
	require.NotNil(t, res[0].Account)
	assert.Equal(t, "suspended", res[0].Account.Status)
	kids, err := st.Children(ctx, store.DefaultAdminSid)
	require.NoError(t, err)
	assert.Len(t, kids, 1)
}
