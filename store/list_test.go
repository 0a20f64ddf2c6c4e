package store_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/store"
)

// bulkChildren writes n children of parent straight into Redis with the
// store's key layout (the account hash, the parent's children and the
// organization's members), pipelined, and returns their SIDs in SID order.
func bulkChildren(t *testing.T, rdb redis.UniversalClient, parent string, n int) []string {
	t.Helper()
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).Unix()
	sids := make([]string, 0, n)
	pipe := rdb.Pipeline()
	for i := range n {
		email := fmt.Sprintf("bulk%05d@x.com", i)
		sid := "AC" + md5hex(email)
		sids = append(sids, sid)
		pipe.HSet(ctx, "{restcomm}:acct:"+sid, "sid", sid, "org", store.DefaultOrganizationSid,
			"fname", "Bulk <"+email+">", "email", email, "type", "Full", "status", "active",
			"role", "Developer", "token", md5hex(email), "uri", "/2012-04-24/Accounts/"+sid,
			"parent", parent, "created", created, "updated", created+int64(i))
		pipe.ZAdd(ctx, "{restcomm}:children:"+parent, redis.Z{Member: sid})
		pipe.ZAdd(ctx, "{restcomm}:orgacc:"+store.DefaultOrganizationSid, redis.Z{Member: sid})
		if pipe.Len() >= 3000 {
			_, err := pipe.Exec(ctx)
			require.NoError(t, err)
		}
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
	sort.Strings(sids)
	return sids
}

// 2,500 children come in batches of at most ListBatch, in SID order, each
// exactly once, with every field read; Children gives the same list.
func TestEachChildReadsBatchesInOrder(t *testing.T) {
	st, srv := newStore(t)
	const n = 2500
	want := bulkChildren(t, srv.Client(t), store.DefaultAdminSid, n)

	var got []store.Account
	batches := 0
	err := st.EachChild(ctx, store.DefaultAdminSid, func(as []store.Account) error {
		batches++
		require.NotEmpty(t, as)
		require.LessOrEqual(t, len(as), store.ListBatch)
		got = append(got, as...)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, (n+store.ListBatch-1)/store.ListBatch, batches)
	require.Len(t, got, n)
	for i, a := range got {
		require.Equal(t, want[i], a.Sid, "position %d", i)
	}
	a := got[n-1]
	assert.Equal(t, store.DefaultOrganizationSid, a.OrganizationSid)
	assert.Equal(t, "Bulk <"+a.EmailAddress+">", a.FriendlyName)
	assert.Equal(t, "Developer", a.Role)
	assert.Equal(t, store.DefaultAdminSid, a.ParentSid)
	assert.Equal(t, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), a.DateCreated)

	kids, err := st.Children(ctx, store.DefaultAdminSid)
	require.NoError(t, err)
	assert.Equal(t, got, kids)

	// the organization's list: the same accounts and the administrator
	count := 0
	last := ""
	require.NoError(t, st.EachOrganizationAccount(ctx, store.DefaultOrganizationSid, func(as []store.Account) error {
		for _, a := range as {
			require.Less(t, last, a.Sid)
			last = a.Sid
			count++
		}
		return nil
	}))
	assert.Equal(t, n+1, count)
}

// A list changed while it is read lists every account that stays exactly
// once and in order: the cursor is the last SID read, not a position.
func TestEachChildUnderConcurrentChanges(t *testing.T) {
	st, srv := newStore(t)
	rdb := srv.Client(t)
	sids := bulkChildren(t, rdb, store.DefaultAdminSid, 3*store.ListBatch)
	removed := map[string]bool{}
	var got []string
	first := true
	require.NoError(t, st.EachChild(ctx, store.DefaultAdminSid, func(as []store.Account) error {
		for _, a := range as {
			got = append(got, a.Sid)
		}
		if first { // between the first and the second batch
			first = false
			// remove ten already read and ten not yet read
			for _, s := range append(append([]string{}, sids[:10]...), sids[len(sids)-10:]...) {
				require.NoError(t, rdb.ZRem(ctx, "{restcomm}:children:"+store.DefaultAdminSid, s).Err())
				removed[s] = true
			}
		}
		return nil
	}))
	var want []string
	for i, s := range sids {
		if i < store.ListBatch || !removed[s] {
			want = append(want, s)
		}
	}
	assert.Equal(t, want, got)
}

func TestEachStopsAtTheCallersError(t *testing.T) {
	st, srv := newStore(t)
	bulkChildren(t, srv.Client(t), store.DefaultAdminSid, 2*store.ListBatch+1)
	stop := errors.New("stop")
	calls := 0
	err := st.EachChild(ctx, store.DefaultAdminSid, func([]store.Account) error {
		calls++
		return stop
	})
	assert.Same(t, stop, err)
	assert.Equal(t, 1, calls)

	// no children: fn is never called
	require.NoError(t, st.EachChild(ctx, "ACnone", func([]store.Account) error {
		t.Fatal("called for an empty list")
		return nil
	}))
}

func TestEachOrganizationInBatches(t *testing.T) {
	st, srv := newStore(t)
	rdb := srv.Client(t)
	const n = store.ListBatch + 44
	pipe := rdb.Pipeline()
	for i := range n {
		sid := fmt.Sprintf("OR%032x", n-i) // written in reverse
		pipe.HSet(ctx, "{restcomm}:org:"+sid, "sid", sid, "domain", fmt.Sprintf("d%d", i),
			"status", "active", "created", 0, "updated", 0)
		pipe.ZAdd(ctx, "{restcomm}:orgs", redis.Z{Member: sid})
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)

	var got []store.Organization
	require.NoError(t, st.EachOrganization(ctx, func(batch []store.Organization) error {
		got = append(got, batch...)
		return nil
	}))
	require.Len(t, got, n+1) // with the seeded default organization
	for i := 1; i < len(got); i++ {
		require.Less(t, got[i-1].Sid, got[i].Sid)
	}
	all, err := st.Organizations(ctx)
	require.NoError(t, err)
	assert.Equal(t, got, all)
}

// Lists are read with read-only commands only: they are served while
// writes are paused (CLIENT PAUSE WRITE, as a failover does).
func TestListsReadWhileWritesArePaused(t *testing.T) {
	st, srv := newStore(t)
	rdb := srv.Client(t)
	bulkChildren(t, rdb, store.DefaultAdminSid, store.ListBatch+1)
	kids, err := st.Children(ctx, store.DefaultAdminSid)
	require.NoError(t, err)
	// paused for longer than the read may take: a read that waited for
	// the pause to end would fail
	require.NoError(t, rdb.Do(ctx, "CLIENT", "PAUSE", 120_000, "WRITE").Err())
	t.Cleanup(func() { _ = rdb.Do(ctx, "CLIENT", "UNPAUSE").Err() })
	readCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	again, err := st.Children(readCtx, store.DefaultAdminSid)
	require.NoError(t, err, "read while writes are paused")
	assert.Equal(t, kids, again)
}
