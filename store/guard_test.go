package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/store"
)

// Every write is conditional on the caller it was decided for: a change of
// the caller's status, token or role between the decision and the write
// makes the write fail with ErrStale and change nothing.
func TestWritesAreConditionalOnTheirGuard(t *testing.T) {
	st, _ := newStore(t)
	parent := mustCreate(t, st, account("parent@company.com", store.DefaultAdminSid))
	target := mustCreate(t, st, account("target@company.com", parent.Sid))
	org := &store.Organization{Sid: "ORafbe225ad37541eba518a74248f0ac4d", DomainName: "org1", Status: "active", DateCreated: time.Now(), DateUpdated: time.Now()}
	_, err := st.CreateOrganization(ctx, nil, org)
	require.NoError(t, err)

	stale := map[string]func(g store.Guard) store.Guard{
		"status": func(g store.Guard) store.Guard { g.Status = "suspended"; return g },
		"token":  func(g store.Guard) store.Guard { g.AuthToken = md5hex("old password"); return g },
		"role":   func(g store.Guard) store.Guard { g.Role = "Developer"; return g },
		"sid":    func(g store.Guard) store.Guard { g.Sid = "AC0000000000000000000000000000dead"; return g },
	}
	writes := map[string]func(g *store.Guard) error{
		"create account": func(g *store.Guard) error {
			_, err := st.CreateAccount(ctx, g, account("new@company.com", parent.Sid))
			return err
		},
		"update account": func(g *store.Guard) error {
			_, err := st.UpdateAccount(ctx, g, target.Sid, store.AccountUpdate{Status: strp("suspended"), Now: time.Now()})
			return err
		},
		"migrate account": func(g *store.Guard) error {
			_, err := st.MigrateAccount(ctx, g, target.Sid, org.Sid, time.Now())
			return err
		},
		"create organization": func(g *store.Guard) error {
			_, err := st.CreateOrganization(ctx, g, &store.Organization{Sid: "ORafbe225ad37541eba518a74248f0ac4e", DomainName: "org2", Status: "active"})
			return err
		},
	}
	before := dump(t, st)
	for wname, write := range writes {
		for sname, change := range stale {
			g := change(*store.GuardOf(parent, ""))
			assert.ErrorIs(t, write(&g), store.ErrStale, "%s with a changed %s", wname, sname)
		}
	}
	assert.Equal(t, before, dump(t, st), "a stale write changes nothing")

	// the guard as read holds
	for wname, write := range writes {
		assert.NoError(t, write(store.GuardOf(parent, "")), wname)
	}
}

// No account is created under a parent that is no longer active, whoever
// asks.
func TestCreateUnderAnInactiveParentIsStale(t *testing.T) {
	st, _ := newStore(t)
	parent := mustCreate(t, st, account("parent@company.com", store.DefaultAdminSid))
	admin, err := st.Account(ctx, store.DefaultAdminSid)
	require.NoError(t, err)
	for _, s := range []string{"suspended", "closed"} {
		p := mustCreate(t, st, account(s+"@company.com", store.DefaultAdminSid))
		_, err := st.UpdateAccount(ctx, nil, p.Sid, store.AccountUpdate{Status: strp(s), Now: time.Now()})
		require.NoError(t, err)
		_, err = st.CreateAccount(ctx, store.GuardOf(admin, ""), account("kid-"+s+"@company.com", p.Sid))
		assert.ErrorIs(t, err, store.ErrStale, s)
	}
	_, err = st.CreateAccount(ctx, store.GuardOf(parent, ""), account("kid@company.com", parent.Sid))
	assert.NoError(t, err)
}

// dump is every key of the Redis with its serialized value.
func dump(t *testing.T, st *store.Store) map[string]string {
	t.Helper()
	keys, err := st.Client().Keys(ctx, "*").Result()
	require.NoError(t, err)
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		v, err := st.Client().Dump(ctx, k).Result()
		require.NoError(t, err)
		out[k] = v
	}
	return out
}
