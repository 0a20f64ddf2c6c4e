package accountcache

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
)

var ctx = context.Background()

// liveness bounds how long a test waits for something that happens in
// milliseconds; it is no timing claim.
const liveness = 10 * time.Second

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// namespace starts a Redis and marks and seeds its namespace, as a running
// gateway finds it.
func namespace(t *testing.T) *redistest.Server {
	t.Helper()
	srv := redistest.Start(t)
	_, err := store.New(srv.Client(t), "").Init(ctx, store.InitOptions{Seed: true, By: "test"})
	require.NoError(t, err)
	return srv
}

// running starts a cache over a store on rdb and waits until it trusts
// what it caches.
func running(t *testing.T, rdb redis.UniversalClient, cfg Config) *Cache {
	t.Helper()
	c := New(store.New(rdb, ""), cfg)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); c.Run(cctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, c.Trusted, liveness, time.Millisecond, "the cache never trusted its entries")
	return c
}

// caughtUp waits until c has heard a heartbeat sent after this call: from
// then on it has heard every change made before the call.
func caughtUp(t *testing.T, c *Cache) {
	t.Helper()
	mark := c.now()
	require.Eventually(t, func() bool { return c.heard.Load() > mark }, liveness, time.Millisecond)
}

func login(id string) store.Lookup { return store.Lookup{Mode: store.ByLogin, ID: id} }

func newAccount(t *testing.T, st *store.Store, email string) *store.Account {
	t.Helper()
	sid := "AC" + md5hex(email)
	now := time.Now()
	a, err := st.CreateAccount(ctx, nil, &store.Account{Sid: sid, OrganizationSid: store.DefaultOrganizationSid,
		FriendlyName: email, EmailAddress: email, Type: "Full", Status: store.StatusActive, Role: "Administrator",
		AuthToken: md5hex("RestComm12"), URI: "/2012-04-24/Accounts/" + sid, ParentSid: store.DefaultAdminSid,
		DateCreated: now, DateUpdated: now})
	require.NoError(t, err)
	return a
}

func resolveOne(t *testing.T, c *Cache, l store.Lookup) *store.Account {
	t.Helper()
	res, _, err := c.ResolveCounting(ctx, nil, l)
	require.NoError(t, err)
	return res[0].Account
}

func TestServesRepeatedLookupsFromMemory(t *testing.T) {
	t.Parallel()
	srv := namespace(t)
	c := running(t, srv.Client(t), Config{})
	want := newAccount(t, store.New(srv.Client(t), ""), "alice@company.com")
	caughtUp(t, c) // its creation, heard later, would drop what is read now

	first := resolveOne(t, c, login("alice@company.com"))
	before := c.Stats()
	for range 10 {
		got := resolveOne(t, c, login("alice@company.com"))
		assert.Equal(t, first, got)
		got.AuthToken = "changed by the caller" // each caller has its own copy
	}
	after := c.Stats()
	assert.Equal(t, before.Hits+10, after.Hits)
	assert.Equal(t, before.Misses, after.Misses)
	assert.Equal(t, want.AuthToken, resolveOne(t, c, login("alice@company.com")).AuthToken)
}

// Every kind of change another gateway makes is seen once the cache has
// heard a heartbeat sent after it: a revoked token, a suspension that
// cascades to a child, a migration, a new friendly name that makes a name
// ambiguous, an account created for a login that found nothing before.
func TestSeesEveryChangeMadeElsewhere(t *testing.T) {
	t.Parallel()
	srv := namespace(t)
	c := running(t, srv.Client(t), Config{})
	other := store.New(srv.Client(t), "") // another gateway
	parent := newAccount(t, other, "parent@company.com")
	child := newAccount(t, other, "child@company.com")
	_, err := other.UpdateAccount(ctx, nil, child.Sid, store.AccountUpdate{Now: time.Now()}) // no-op
	require.NoError(t, err)
	org := &store.Organization{Sid: "ORafbe225ad37541eba518a74248f0ac4d", DomainName: "org1", Status: "active", DateCreated: time.Now(), DateUpdated: time.Now()}
	_, err = other.CreateOrganization(ctx, nil, org)
	require.NoError(t, err)

	// child under parent, for the cascade
	grand := &store.Account{}
	*grand = *child
	grand.Sid, grand.EmailAddress, grand.FriendlyName, grand.ParentSid = "AC"+md5hex("grand"), "grand@company.com", "grand", parent.Sid
	_, err = other.CreateAccount(ctx, nil, grand)
	require.NoError(t, err)

	byID := func(id string) store.Lookup { return store.Lookup{Mode: store.ByID, ID: id} }
	newToken := md5hex("NewPassword1")
	cases := []struct {
		name   string
		lookup store.Lookup
		change func()
		check  func(t *testing.T, r store.Resolved)
	}{
		{"token", login("parent@company.com"), func() {
			_, err := other.UpdateAccount(ctx, nil, parent.Sid, store.AccountUpdate{AuthToken: &newToken, Now: time.Now()})
			require.NoError(t, err)
		}, func(t *testing.T, r store.Resolved) { assert.Equal(t, newToken, r.Account.AuthToken) }},
		{"cascade", login(grand.Sid), func() {
			s := "suspended"
			_, err := other.UpdateAccount(ctx, nil, parent.Sid, store.AccountUpdate{Status: &s, Now: time.Now()})
			require.NoError(t, err)
		}, func(t *testing.T, r store.Resolved) { assert.Equal(t, "suspended", r.Account.Status) }},
		{"migrate", byID(child.Sid), func() {
			_, err := other.MigrateAccount(ctx, nil, child.Sid, org.Sid, time.Now())
			require.NoError(t, err)
		}, func(t *testing.T, r store.Resolved) { assert.Equal(t, org.Sid, r.Account.OrganizationSid) }},
		{"name becomes ambiguous", byID("grand"), func() {
			n := "grand"
			_, err := other.UpdateAccount(ctx, nil, child.Sid, store.AccountUpdate{FriendlyName: &n, Now: time.Now()})
			require.NoError(t, err)
		}, func(t *testing.T, r store.Resolved) { assert.True(t, r.Ambiguous) }},
		{"created", login("late@company.com"), func() { newAccount(t, other, "late@company.com") },
			func(t *testing.T, r store.Resolved) { require.NotNil(t, r.Account) }},
		{"created, by SID", login("AC" + md5hex("later@company.com")), func() { newAccount(t, other, "later@company.com") },
			func(t *testing.T, r store.Resolved) { require.NotNil(t, r.Account) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for range 3 { // cached
				_, _, err := c.ResolveCounting(ctx, nil, tc.lookup)
				require.NoError(t, err)
			}
			tc.change()
			caughtUp(t, c)
			res, _, err := c.ResolveCounting(ctx, nil, tc.lookup)
			require.NoError(t, err)
			tc.check(t, res[0])
		})
	}
}

// A cut subscription stops the cache at the read that fails, not when
// heartbeats stop (TrustFor is an hour here): a change made after the cut
// is never answered from memory, and the cache subscribes again.
func TestCutFeedStopsTheCacheAtOnce(t *testing.T) {
	t.Parallel()
	srv := namespace(t)
	proxy := redistest.NewProxy(t, srv.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	c := running(t, rdb, Config{TrustFor: time.Hour})
	other := store.New(srv.Client(t), "")
	a := newAccount(t, other, "cut@company.com")

	for i := range 20 {
		require.Eventually(t, c.Trusted, liveness, time.Millisecond)
		resolveOne(t, c, login(a.Sid)) // cached
		token := md5hex(fmt.Sprint("Password", i))
		proxy.CutSubscribers()
		require.Eventually(t, func() bool { return !c.Trusted() }, liveness, 50*time.Microsecond)
		_, err := other.UpdateAccount(ctx, nil, a.Sid, store.AccountUpdate{AuthToken: &token, Now: time.Now()})
		require.NoError(t, err)
		assert.Equal(t, token, resolveOne(t, c, login(a.Sid)).AuthToken, "round %d", i)
	}
}

// A feed that goes silent (a partition nobody notices) stops the cache once
// its latest heartbeat is older than TrustFor; a change made meanwhile is
// then read from Redis.
func TestSilentFeedStopsTheCache(t *testing.T) {
	t.Parallel()
	srv := namespace(t)
	proxy := redistest.NewProxy(t, srv.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	c := running(t, rdb, Config{})
	other := store.New(srv.Client(t), "")
	a := newAccount(t, other, "silent@company.com")
	resolveOne(t, c, login(a.Sid))

	proxy.SilenceSubscribers()
	token := md5hex("Partitioned1")
	_, err := other.UpdateAccount(ctx, nil, a.Sid, store.AccountUpdate{AuthToken: &token, Now: time.Now()})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !c.Trusted() }, liveness, time.Millisecond)
	assert.Equal(t, token, resolveOne(t, c, login(a.Sid)).AuthToken)
	// and it subscribes again (silentFeed), empty, and trusts again
	require.Eventually(t, c.Trusted, liveness, 5*time.Millisecond)
	assert.Equal(t, token, resolveOne(t, c, login(a.Sid)).AuthToken)
}

// A Redis that lost its data (its namespace marker) gets no heartbeat, so
// nothing cached from before is used.
func TestLostNamespaceStopsTheCache(t *testing.T) {
	t.Parallel()
	srv := namespace(t)
	c := running(t, srv.Client(t), Config{})
	resolveOne(t, c, login(store.DefaultAdminSid))
	require.NoError(t, srv.Client(t).FlushAll(ctx).Err())
	require.Eventually(t, func() bool { return !c.Trusted() }, liveness, time.Millisecond)
	assert.Nil(t, resolveOne(t, c, login(store.DefaultAdminSid)))
}

// A read that began before a change it raced is never cached as current.
func TestAReadRacingAChangeIsNotCached(t *testing.T) {
	t.Parallel()
	srv := namespace(t)
	st := store.New(srv.Client(t), "")
	c := New(st, Config{}) // not running: this test is the feed
	l := login(store.DefaultAdminSid)
	res, err := st.Resolve(ctx, l)
	require.NoError(t, err)

	c.mu.RLock()
	gen, epoch := c.gen, c.epoch
	c.mu.RUnlock()
	c.apply("a" + fmt.Sprintf("%d:%s", len(store.DefaultAdminSid), store.DefaultAdminSid)) // heard while the read was out
	c.fill(gen, epoch, []store.Lookup{l}, res)
	_, ok := c.entries[l]
	require.True(t, ok, "filled")
	_, _, hit := c.lookup(c.now(), nil, []store.Lookup{l})
	assert.False(t, hit, "an entry read before a change it raced is not current")

	c.mu.RLock()
	gen, epoch = c.gen, c.epoch
	c.mu.RUnlock()
	c.Clear() // emptied while the read was out
	c.fill(gen, epoch, []store.Lookup{l}, res)
	assert.Empty(t, c.entries)
}

// Requests from a client IP with failed logins in their window read their
// counts from Redis; other IPs' requests are served from memory. IPs that
// failed before the cache subscribed are known too.
func TestFailedLoginsKeepTheirIPOffTheCache(t *testing.T) {
	t.Parallel()
	srv := namespace(t)
	other := store.New(srv.Client(t), "")
	fl := func(ip string) *store.FailedLogins {
		return store.NewFailedLogins("nobody@company.com", ip, time.Minute, 10, 100)
	}
	count := func(f *store.FailedLogins) {
		t.Helper()
		counted, _, err := other.CountFailedLogin(ctx, f)
		require.NoError(t, err)
		require.True(t, counted)
	}
	count(fl("192.0.2.1"))
	c := running(t, srv.Client(t), Config{})
	l := login(store.DefaultAdminSid)

	resolve := func(ip string) (*store.FailureCounts, bool) {
		before := c.Stats().Hits
		_, counts, err := c.ResolveCounting(ctx, fl(ip), l)
		require.NoError(t, err)
		return counts, c.Stats().Hits > before
	}
	resolve("192.0.2.2")
	counts, hit := resolve("192.0.2.2")
	assert.True(t, hit)
	assert.Equal(t, store.FailureCounts{}, *counts)

	counts, hit = resolve("192.0.2.1") // failed before the cache started
	assert.False(t, hit)
	assert.Equal(t, 1, counts.IP)

	assert.False(t, c.Failing("192.0.2.2"))
	count(fl("192.0.2.2")) // elsewhere
	caughtUp(t, c)
	assert.True(t, c.Failing("192.0.2.2"))
	counts, hit = resolve("192.0.2.2")
	assert.False(t, hit)
	assert.Equal(t, 1, counts.IP)

	c.FailedLogin("192.0.2.3") // here: at once
	assert.True(t, c.Failing("192.0.2.3"))
	_, hit = resolve("192.0.2.3")
	assert.False(t, hit)
	assert.True(t, c.Failing("192.0.2.1"), "known from before the cache started")
}

func TestNegativeEntriesAreBrief(t *testing.T) {
	t.Parallel()
	srv := namespace(t)
	c := running(t, srv.Client(t), Config{})
	l := login("nobody@company.com")
	before := c.now()
	assert.Nil(t, resolveOne(t, c, l))
	after := c.now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	e := c.entries[l]
	require.NotNil(t, e)
	assert.GreaterOrEqual(t, e.expires, before+int64(DefaultNegativeFor))
	assert.LessOrEqual(t, e.expires, after+int64(DefaultNegativeFor))
	assert.False(t, c.good(e, e.expires), "gone once NegativeFor has passed")
	assert.True(t, c.good(e, e.expires-1))
}

func TestBoundedInEntriesAndBytes(t *testing.T) {
	t.Parallel()
	srv := namespace(t)
	c := running(t, srv.Client(t), Config{MaxEntries: 10, MaxBytes: 4 << 10})
	for i := range 100 {
		resolveOne(t, c, login(fmt.Sprintf("user%d@company.com", i)))
		resolveOne(t, c, login(store.DefaultAdminSid))
		s := c.Stats()
		require.LessOrEqual(t, s.Entries, 10)
		require.LessOrEqual(t, s.Bytes, 4<<10)
	}
}

// A message the cache cannot read could be a change: it empties the cache.
func TestUnreadableMessagesEmptyTheCache(t *testing.T) {
	t.Parallel()
	srv := namespace(t)
	c := running(t, srv.Client(t), Config{})
	for _, msg := range []string{"", "x", "a5:abc", "fnope", "*"} {
		resolveOne(t, c, login(store.DefaultAdminSid))
		require.Equal(t, 1, c.Stats().Entries)
		require.NoError(t, srv.Client(t).Publish(ctx, "{restcomm}:changes", msg).Err())
		require.Eventually(t, func() bool { return c.Stats().Entries == 0 }, liveness, time.Millisecond, "message %q", msg)
	}
}

// Before it has subscribed, a cache serves nothing from memory, but takes
// every note it is given.
func TestACacheNotYetListening(t *testing.T) {
	t.Parallel()
	srv := namespace(t)
	c := New(store.New(srv.Client(t), ""), Config{})
	c.FailedLogin("192.0.2.9")
	c.Clear()
	for range 2 {
		resolveOne(t, c, login(store.DefaultAdminSid))
	}
	assert.False(t, c.Trusted())
	s := c.Stats()
	assert.Equal(t, Stats{Misses: 2}, s)
}

// Run ends when its context does, even while other gateways' heartbeats
// keep the feed busy.
func TestRunEndsWithItsContext(t *testing.T) {
	t.Parallel()
	srv := namespace(t)
	running(t, srv.Client(t), Config{}) // another gateway, beating
	c := New(store.New(srv.Client(t), ""), Config{})
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); c.Run(cctx) }()
	require.Eventually(t, c.Trusted, liveness, time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(liveness):
		t.Fatal("Run did not end with its context")
	}
	assert.False(t, c.Trusted())
}

// On Redis Cluster the feed works as on one node: the heartbeats go through
// the namespace's slot, and a change made through another client is seen.
func TestWorksOnRedisCluster(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t)
	connect := func() redis.UniversalClient {
		rdb, err := store.ClientOptions{URLs: cl.URLs()}.NewClient()
		require.NoError(t, err)
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb
	}
	other := store.New(connect(), "")
	_, err := other.Init(ctx, store.InitOptions{Seed: true, By: "test"})
	require.NoError(t, err)
	c := running(t, connect(), Config{})
	a := newAccount(t, other, "cluster@company.com")
	caughtUp(t, c)
	resolveOne(t, c, login(a.Sid))
	before := c.Stats().Hits
	resolveOne(t, c, login(a.Sid))
	assert.Equal(t, before+1, c.Stats().Hits)

	token := md5hex("Clustered1")
	_, err = other.UpdateAccount(ctx, nil, a.Sid, store.AccountUpdate{AuthToken: &token, Now: time.Now()})
	require.NoError(t, err)
	caughtUp(t, c)
	assert.Equal(t, token, resolveOne(t, c, login(a.Sid)).AuthToken)
}

// Under a rule that folds case and trailing spaces, an entry found by
// another spelling of an e-mail address or friendly name goes stale when
// the account changes, and a change of rule empties the cache.
func TestChangesReachEverySpellingOfTheRule(t *testing.T) {
	t.Parallel()
	srv := namespace(t)
	other := store.New(srv.Client(t), "") // another gateway
	_, err := other.SetCollation(ctx, collation.Latin1SwedishCI)
	require.NoError(t, err)
	c := running(t, srv.Client(t), Config{})
	a := newAccount(t, other, "alice@company.com")
	_, err = c.st.OpenKeys(ctx, nil)
	require.NoError(t, err)
	caughtUp(t, c)

	spelled := []store.Lookup{login("ALICE@Company.com "), {Mode: store.ByID, ID: "ALICE@company.COM"}}
	for _, l := range spelled {
		require.Equal(t, a.Sid, resolveOne(t, c, l).Sid, "%q", l.ID)
	}
	newToken := md5hex("NewPassword1")
	_, err = other.UpdateAccount(ctx, nil, a.Sid, store.AccountUpdate{AuthToken: &newToken, Now: time.Now()})
	require.NoError(t, err)
	caughtUp(t, c)
	for _, l := range spelled {
		assert.Equal(t, newToken, resolveOne(t, c, l).AuthToken, "%q", l.ID)
	}

	// back to exact: the spellings find nothing, at once
	_, err = other.SetCollation(ctx, collation.Exact)
	require.NoError(t, err)
	caughtUp(t, c)
	for _, l := range spelled {
		assert.Nil(t, resolveOne(t, c, l), "%q", l.ID)
	}
}
