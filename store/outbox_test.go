package store_test

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
)

func outboxEntries(t *testing.T, rdb redis.UniversalClient) []redis.XMessage {
	t.Helper()
	msgs, err := rdb.XRange(ctx, "{restcomm}:outbox", "-", "+").Result()
	require.NoError(t, err)
	return msgs
}

func mirrored(t *testing.T) (*store.Store, *redistest.Server, redis.UniversalClient) {
	t.Helper()
	st, srv := newStore(t)
	require.NoError(t, st.Outbox().Enable(ctx))
	require.NoError(t, st.Outbox().Enable(ctx), "enabling twice is fine")
	return st, srv, srv.Client(t)
}

func ptr(s string) *string { return &s }

// Without a mirror nothing changes: changes append nothing, and no
// outbox key appears.
func TestNoOutboxUnlessMirrored(t *testing.T) {
	st, srv := newStore(t)
	a := mustCreate(t, st, account("plain@x.com", store.DefaultAdminSid))
	_, err := st.UpdateAccount(ctx, nil, a.Sid, store.AccountUpdate{Status: ptr("suspended"), Now: time.Now()})
	require.NoError(t, err)
	n, err := srv.Client(t).Exists(ctx, "{restcomm}:outbox").Result()
	require.NoError(t, err)
	assert.Zero(t, n)
	got, err := st.Account(ctx, a.Sid)
	require.NoError(t, err)
	assert.Empty(t, got.Pending)
}

// Every kind of change appends exactly one entry, in the same script,
// naming every account it wrote, and marks them pending; a change that
// is refused appends nothing.
func TestEveryChangeHasItsEntry(t *testing.T) {
	st, _, rdb := mirrored(t)
	sealer, err := store.NewSealer("a mirror secret of some length")
	require.NoError(t, err)
	st = st.WithSealer(sealer)

	step := func(name string, wantEntry bool, run func() error) *redis.XMessage {
		t.Helper()
		before := outboxEntries(t, rdb)
		err := run()
		after := outboxEntries(t, rdb)
		if !wantEntry {
			assert.Error(t, err, name)
			assert.Equal(t, len(before), len(after), "%s: a refused change has no entry", name)
			return nil
		}
		require.NoError(t, err, name)
		require.Len(t, after, len(before)+1, "%s: one entry", name)
		return &after[len(after)-1]
	}
	step("activate the administrator", true, func() error {
		_, err := st.UpdateAccount(ctx, nil, store.DefaultAdminSid, store.AccountUpdate{Status: ptr("active"), Now: time.Now()})
		return err
	})
	guard := &store.Guard{Sid: store.DefaultAdminSid, Status: "active", AuthToken: store.DefaultAdminAuthToken,
		Role: "Administrator", RequestID: "req-1"}

	top := account("top@x.com", store.DefaultAdminSid)
	e := step("create", true, func() error {
		_, err := st.CreateAccount(ctx, guard, top, store.WithPassword("Top-secret1"))
		return err
	})
	assert.Equal(t, "create", e.Values["op"])
	assert.Equal(t, top.Sid, e.Values["sid"])
	assert.Equal(t, top.Sid, e.Values["sids"])
	assert.Equal(t, "req-1", e.Values["req"])
	sealed := e.Values["secret"].(string)
	assert.NotContains(t, sealed, "Top-secret1")
	plain, err := sealer.Open(top.Sid, sealed)
	require.NoError(t, err)
	assert.Equal(t, "Top-secret1", plain)
	_, err = sealer.Open("AC"+strings.Repeat("0", 32), sealed)
	assert.ErrorIs(t, err, store.ErrUnsealable, "bound to its account")
	got, err := st.Account(ctx, top.Sid)
	require.NoError(t, err)
	assert.Equal(t, e.ID, got.Pending)

	step("duplicate create", false, func() error {
		_, err := st.CreateAccount(ctx, nil, account("top@x.com", store.DefaultAdminSid))
		return err
	})
	step("create under a missing parent", false, func() error {
		_, err := st.CreateAccount(ctx, nil, account("orphan@x.com", "AC0000000000000000000000000000dead"))
		return err
	})
	stale := *guard
	stale.AuthToken = md5hex("not it")
	step("stale create", false, func() error {
		_, err := st.CreateAccount(ctx, &stale, account("stale@x.com", store.DefaultAdminSid))
		return err
	})

	kid := mustCreate(t, st, account("kid@x.com", top.Sid))
	grand := mustCreate(t, st, account("grand@x.com", kid.Sid))
	other := mustCreate(t, st, account("other@x.com", store.DefaultAdminSid))

	e = step("rename", true, func() error {
		_, err := st.UpdateAccount(ctx, nil, top.Sid, store.AccountUpdate{FriendlyName: ptr("Top"), Now: time.Now()})
		return err
	})
	assert.Equal(t, "update", e.Values["op"])
	assert.Equal(t, top.Sid, e.Values["sids"], "no status change: the account alone")
	assert.Equal(t, "active", e.Values["from"])
	assert.Equal(t, "active", e.Values["status"])
	assert.Nil(t, e.Values["new_password"])

	tok := md5hex("New-secret2")
	e = step("password", true, func() error {
		_, err := st.UpdateAccount(ctx, nil, kid.Sid, store.AccountUpdate{AuthToken: &tok, Now: time.Now()},
			store.WithPassword("New-secret2"))
		return err
	})
	assert.Equal(t, "1", e.Values["new_password"])
	plain, err = sealer.Open(kid.Sid, e.Values["secret"].(string))
	require.NoError(t, err)
	assert.Equal(t, "New-secret2", plain)

	e = step("suspend cascades", true, func() error {
		_, err := st.UpdateAccount(ctx, nil, top.Sid, store.AccountUpdate{Status: ptr("suspended"), Now: time.Now()})
		return err
	})
	assert.Equal(t, strings.Join([]string{top.Sid, kid.Sid, grand.Sid}, ","), e.Values["sids"])
	assert.Equal(t, "suspended", e.Values["status"])
	for _, sid := range []string{top.Sid, kid.Sid, grand.Sid} {
		a, err := st.Account(ctx, sid)
		require.NoError(t, err)
		assert.Equal(t, e.ID, a.Pending, "every account the change wrote waits for it")
	}
	a, err := st.Account(ctx, other.Sid)
	require.NoError(t, err)
	assert.NotEqual(t, e.ID, a.Pending)

	org := &store.Organization{Sid: "OR" + md5hex("org two"), DomainName: "two.example.com", Status: "active",
		DateCreated: time.Now(), DateUpdated: time.Now()}
	e = step("organization", true, func() error {
		_, err := st.CreateOrganization(ctx, nil, org)
		return err
	})
	assert.Equal(t, "organization", e.Values["op"])
	assert.Equal(t, org.Sid, e.Values["sid"])
	assert.Nil(t, e.Values["sids"])
	step("duplicate organization", false, func() error {
		_, err := st.CreateOrganization(ctx, nil, org)
		return err
	})

	e = step("migrate", true, func() error {
		_, err := st.MigrateAccount(ctx, nil, top.Sid, org.Sid, time.Now())
		return err
	})
	assert.Equal(t, "migrate", e.Values["op"])
	assert.Equal(t, org.Sid, e.Values["org"])
	assert.Equal(t, top.Sid+","+kid.Sid, e.Values["sids"], "the account and its direct children")
	step("migrate to the same organization", false, func() error {
		_, err := st.MigrateAccount(ctx, nil, top.Sid, org.Sid, time.Now())
		return err
	})
	step("migrate to a missing organization", false, func() error {
		_, err := st.MigrateAccount(ctx, nil, top.Sid, "OR"+md5hex("none"), time.Now())
		return err
	})

	e = step("close", true, func() error {
		_, err := st.UpdateAccount(ctx, nil, kid.Sid, store.AccountUpdate{Status: ptr("closed"), Now: time.Now()})
		return err
	})
	assert.Equal(t, "suspended", e.Values["from"])
	assert.Equal(t, "closed", e.Values["status"])
	step("update a closed account", false, func() error {
		_, err := st.UpdateAccount(ctx, nil, kid.Sid, store.AccountUpdate{FriendlyName: ptr("x"), Now: time.Now()})
		return err
	})
	step("update a missing account", false, func() error {
		_, err := st.UpdateAccount(ctx, nil, "AC0000000000000000000000000000dead", store.AccountUpdate{Now: time.Now()})
		return err
	})

	// without a sealer the password never reaches the outbox
	plainStore := store.New(rdb, "")
	e = step("create without a key", true, func() error {
		_, err := plainStore.CreateAccount(ctx, nil, account("nokey@x.com", store.DefaultAdminSid), store.WithPassword("No-key-pw1"))
		return err
	})
	assert.Nil(t, e.Values["secret"])
}

// Under concurrent changes, successful and refused, entries and changes
// match one to one: every acknowledged change has exactly one entry (its
// request id), and every entry is a change that was acknowledged.
func TestEntriesMatchChangesOneToOne(t *testing.T) {
	st, _, rdb := mirrored(t)
	var sids []string
	for i := range 5 {
		sids = append(sids, mustCreate(t, st, account(fmt.Sprintf("p%d@x.com", i), store.DefaultAdminSid)).Sid)
	}
	base := len(outboxEntries(t, rdb))
	var mu sync.Mutex
	ok := map[string]bool{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 100 {
				id := fmt.Sprintf("w%d-%d", w, i)
				g := &store.Guard{RequestID: id}
				var err error
				switch r.IntN(4) {
				case 0: // some collide on purpose
					_, err = st.CreateAccount(ctx, g, account(fmt.Sprintf("c%d@x.com", r.IntN(150)), sids[r.IntN(5)]))
				case 1:
					_, err = st.UpdateAccount(ctx, g, sids[r.IntN(5)], store.AccountUpdate{
						Status: ptr([]string{"active", "suspended", "closed"}[r.IntN(3)]), Now: time.Now()})
				case 2:
					_, err = st.UpdateAccount(ctx, g, sids[r.IntN(5)], store.AccountUpdate{FriendlyName: ptr(id), Now: time.Now()})
				case 3:
					org := &store.Organization{Sid: "OR" + md5hex(id), DomainName: fmt.Sprintf("d%d.x.com", r.IntN(40)),
						Status: "active", DateCreated: time.Now(), DateUpdated: time.Now()}
					_, err = st.CreateOrganization(ctx, g, org)
				}
				mu.Lock()
				if err == nil {
					ok[id] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	entries := outboxEntries(t, rdb)[base:]
	var got, want []string
	for _, e := range entries {
		got = append(got, e.Values["req"].(string))
	}
	for id := range ok {
		want = append(want, id)
	}
	sort.Strings(got)
	sort.Strings(want)
	assert.Equal(t, want, got)
	assert.Greater(t, len(want), 50)
	assert.Less(t, len(want), 400, "some changes were refused")
}

// A change whose reply is lost has its entry once (it was applied); a
// change Redis never received has none.
func TestLostRepliesKeepEntriesAndChangesTogether(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr, ReadTimeout: 300 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	st := store.New(rdb, "")
	_, err := st.Seed(ctx, "")
	require.NoError(t, err)
	require.NoError(t, st.Outbox().Enable(ctx))
	mustCreate(t, st, account("warm@x.com", store.DefaultAdminSid)) // scripts loaded
	base := len(outboxEntries(t, srv.Client(t)))

	proxy.DropReplyTo("$7\r\nevalsha\r\n")
	lost := account("lost@x.com", store.DefaultAdminSid)
	_, err = st.CreateAccount(ctx, &store.Guard{RequestID: "lost-reply"}, lost)
	require.NoError(t, err, "settled: it was applied")
	entries := outboxEntries(t, srv.Client(t))[base:]
	require.Len(t, entries, 1)
	assert.Equal(t, "lost-reply", entries[0].Values["req"])

	proxy.DropRequest("$7\r\nevalsha\r\n")
	_, err = st.CreateAccount(ctx, &store.Guard{RequestID: "lost-request"}, account("never@x.com", store.DefaultAdminSid))
	require.Error(t, err)
	assert.Len(t, outboxEntries(t, srv.Client(t))[base:], 1, "not applied: no entry")
}

func TestLeaseAndSettle(t *testing.T) {
	st, _, rdb := mirrored(t)
	ok, err := st.Outbox().TakeLease(ctx, "gw-a", time.Second)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = st.Outbox().TakeLease(ctx, "gw-b", time.Second)
	require.NoError(t, err)
	assert.False(t, ok, "one holder at a time")
	ok, err = st.Outbox().TakeLease(ctx, "gw-a", time.Second)
	require.NoError(t, err)
	assert.True(t, ok, "renewed")

	a := mustCreate(t, st, account("settle@x.com", store.DefaultAdminSid))
	b := mustCreate(t, st, account("dead@x.com", store.DefaultAdminSid))
	read, err := st.Outbox().Read(ctx, "gw-a", 10, 0)
	require.NoError(t, err)
	require.Len(t, read, 2)
	assert.Equal(t, a.Sid, read[0].Sid)
	assert.Equal(t, []string{a.Sid}, read[0].Sids)

	// gw-b cannot settle; gw-a can, once
	assert.ErrorIs(t, st.Outbox().Settle(ctx, "gw-b", []store.Settlement{{ID: read[0].ID}}), store.ErrLeaseLost)
	require.NoError(t, st.Outbox().Settle(ctx, "gw-a", []store.Settlement{{ID: read[0].ID}, {ID: read[1].ID, Reason: "refused"}}))
	require.NoError(t, st.Outbox().Settle(ctx, "gw-a", []store.Settlement{{ID: read[0].ID}}), "again: harmless")
	assert.Empty(t, outboxEntries(t, rdb))
	for _, sid := range []string{a.Sid, b.Sid} {
		got, err := st.Account(ctx, sid)
		require.NoError(t, err)
		assert.Empty(t, got.Pending)
	}
	status, err := st.Outbox().Status(ctx)
	require.NoError(t, err)
	assert.True(t, status.Enabled)
	assert.EqualValues(t, 0, status.Backlog)
	assert.EqualValues(t, 1, status.Delivered)
	assert.EqualValues(t, 1, status.Dead)
	var n int64
	for _, c := range status.Latency {
		n += c
	}
	assert.EqualValues(t, 1, n, "the delivery's latency, not the dead letter's")
	assert.Positive(t, status.LatencyQuantile(0.99))
	assert.Equal(t, status.LastLatency, status.MeanLatency)
	assert.Equal(t, "gw-a", status.Holder)
	dead, err := st.Outbox().DeadLetters(ctx, 10)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, "refused", dead[0].Reason)
	assert.Equal(t, b.Sid, dead[0].Entry.Sid)
	assert.Equal(t, read[1].ID, dead[0].Entry.ID)

	// a change after a delivered one is pending again; a later change
	// keeps the mark when an earlier entry is settled
	_, err = st.UpdateAccount(ctx, nil, a.Sid, store.AccountUpdate{FriendlyName: ptr("one"), Now: time.Now()})
	require.NoError(t, err)
	_, err = st.UpdateAccount(ctx, nil, a.Sid, store.AccountUpdate{FriendlyName: ptr("two"), Now: time.Now()})
	require.NoError(t, err)
	read, err = st.Outbox().Read(ctx, "gw-a", 10, 0)
	require.NoError(t, err)
	require.Len(t, read, 2)
	require.NoError(t, st.Outbox().Settle(ctx, "gw-a", []store.Settlement{{ID: read[0].ID}}))
	pend, err := st.Pending(ctx, a.Sid)
	require.NoError(t, err)
	assert.Equal(t, read[1].ID, pend[0])

	// the next holder claims what gw-a read and did not settle
	require.NoError(t, st.Outbox().DropLease(ctx, "gw-a"))
	ok, err = st.Outbox().TakeLease(ctx, "gw-b", time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	claimed, next, err := st.Outbox().Claim(ctx, "gw-b", "0-0", 100)
	require.NoError(t, err)
	assert.Equal(t, "0-0", next)
	require.Len(t, claimed, 1)
	assert.Equal(t, read[1].ID, claimed[0].ID)
	require.NoError(t, st.Outbox().Settle(ctx, "gw-b", []store.Settlement{{ID: claimed[0].ID}}))
	done, err := st.AwaitMirrored(ctx, 5*time.Millisecond, a.Sid, b.Sid)
	require.NoError(t, err)
	assert.True(t, done)
}
