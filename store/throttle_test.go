package store_test

import (
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
)

// countOf reads f's counts as a request does, with its login's lookup.
func countOf(t *testing.T, st *store.Store, f *store.FailedLogins) *store.FailureCounts {
	t.Helper()
	res, c, err := st.ResolveCounting(ctx, f, store.Lookup{Mode: store.ByLogin, ID: f.Login})
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.NotNil(t, c)
	return c
}

func fail(t *testing.T, st *store.Store, f *store.FailedLogins) bool {
	t.Helper()
	counted, _, err := st.CountFailedLogin(ctx, f)
	require.NoError(t, err)
	return counted
}

func TestFailedLoginsSlidingWindow(t *testing.T) {
	st, _ := newStore(t)
	f := store.NewFailedLogins("someone@x.com", "192.0.2.1", time.Minute, 3, 5)
	assert.Equal(t, store.FailureCounts{}, *countOf(t, st, f))
	for range 2 {
		require.True(t, fail(t, st, f))
	}
	c := countOf(t, st, f)
	assert.Equal(t, 2, c.LoginIP)
	assert.Equal(t, 2, c.IP)
	assert.Zero(t, c.RetryAfter, "below the limits")

	// the third is counted, and answered with the counts before it
	counted, before, err := st.CountFailedLogin(ctx, f)
	require.NoError(t, err)
	assert.True(t, counted)
	assert.Equal(t, store.FailureCounts{LoginIP: 2, IP: 2}, *before)
	c = countOf(t, st, f)
	assert.Equal(t, 3, c.LoginIP)
	assert.Greater(t, c.RetryAfter, 50*time.Second, "at the limit until the oldest failure leaves the window")
	assert.LessOrEqual(t, c.RetryAfter, time.Minute)

	// at the limit nothing more is counted, in either counter
	counted, full, err := st.CountFailedLogin(ctx, f)
	require.NoError(t, err)
	assert.False(t, counted)
	assert.Equal(t, 3, full.LoginIP)
	assert.Equal(t, 3, full.IP)
	assert.Greater(t, full.RetryAfter, 50*time.Second)
	assert.Equal(t, 3, countOf(t, st, f).IP)

	// another network has its own counters
	other := store.NewFailedLogins("someone@x.com", "192.0.2.2", time.Minute, 3, 5)
	assert.Equal(t, store.FailureCounts{}, *countOf(t, st, other))

	// another login from the same network counts towards the network's
	// limit, and is refused with it
	for i := range 2 {
		require.True(t, fail(t, st, store.NewFailedLogins("other"+string(rune('a'+i))+"@x.com", "192.0.2.1", time.Minute, 3, 5)))
	}
	assert.False(t, fail(t, st, store.NewFailedLogins("third@x.com", "192.0.2.1", time.Minute, 3, 5)), "the network is at its limit")
	assert.Equal(t, 5, countOf(t, st, f).IP)

	// a short window forgets
	short := store.NewFailedLogins("brief@x.com", "192.0.2.3", 200*time.Millisecond, 3, 5)
	require.True(t, fail(t, st, short))
	require.Eventually(t, func() bool { return countOf(t, st, short).LoginIP == 0 }, 5*time.Second, 20*time.Millisecond)
}

// The check and the add are one step: however many failures are counted
// at once, no more than the limit are.
func TestConcurrentFailuresNeverPassTheLimit(t *testing.T) {
	st, _ := newStore(t)
	f := store.NewFailedLogins(store.DefaultAdminEmail, "192.0.2.1", time.Minute, 10, 100)
	var counted sync.WaitGroup
	var mu sync.Mutex
	n := 0
	for range 100 {
		counted.Go(func() {
			ok, _, err := st.CountFailedLogin(ctx, f)
			assert.NoError(t, err)
			if ok {
				mu.Lock()
				n++
				mu.Unlock()
			}
		})
	}
	counted.Wait()
	assert.Equal(t, 10, n)
	assert.Equal(t, 10, countOf(t, st, f).LoginIP)
}

// A login that names an account is counted as that account, whether it
// names it by e-mail address or by SID; one that names none is counted as
// itself, compared as the namespace compares logins.
func TestOneCountPerAccount(t *testing.T) {
	st, _ := newStore(t)
	mustCreate(t, st, account("shared@x.com", ""))
	sid := account("shared@x.com", "").Sid
	byEmail := store.NewFailedLogins("shared@x.com", "192.0.2.1", time.Minute, 4, 100)
	bySid := store.NewFailedLogins(sid, "192.0.2.1", time.Minute, 4, 100)
	for i := range 4 {
		f := byEmail
		if i%2 == 1 {
			f = bySid
		}
		require.True(t, fail(t, st, f), "failure %d", i+1)
	}
	assert.False(t, fail(t, st, byEmail))
	assert.False(t, fail(t, st, bySid))
	assert.Equal(t, 4, countOf(t, st, bySid).LoginIP)

	// unknown logins keep their own counts, and do not touch the account's
	ghost := store.NewFailedLogins("ghost@x.com", "192.0.2.9", time.Minute, 4, 100)
	require.True(t, fail(t, st, ghost))
	assert.Equal(t, 1, countOf(t, st, ghost).LoginIP)
	assert.Zero(t, countOf(t, st, store.NewFailedLogins("shared@x.com", "192.0.2.9", time.Minute, 4, 100)).LoginIP)
	// under exact comparison another case is another login
	assert.Zero(t, countOf(t, st, store.NewFailedLogins("GHOST@x.com", "192.0.2.9", time.Minute, 4, 100)).LoginIP)
}

// Under a case-insensitive rule, logins that only differ in case (and
// trailing spaces) are one login, known or not.
func TestUnknownLoginsCompareAsTheNamespace(t *testing.T) {
	st, _ := newStore(t)
	_, err := st.SetCollation(ctx, collation.Latin1SwedishCI)
	require.NoError(t, err)
	require.True(t, fail(t, st, store.NewFailedLogins("Someone@x.com", "192.0.2.1", time.Minute, 3, 5)))
	require.True(t, fail(t, st, store.NewFailedLogins("someone@X.com ", "192.0.2.1", time.Minute, 3, 5)))
	assert.Equal(t, 2, countOf(t, st, store.NewFailedLogins("SOMEONE@X.COM", "192.0.2.1", time.Minute, 3, 5)).LoginIP)
	// and a SID in any case is the account's
	require.True(t, fail(t, st, store.NewFailedLogins(strings.ToUpper(store.DefaultAdminSid), "192.0.2.1", time.Minute, 3, 5)))
	assert.Equal(t, 1, countOf(t, st, store.NewFailedLogins(store.DefaultAdminEmail, "192.0.2.1", time.Minute, 3, 5)).LoginIP)
}

func TestClientNetwork(t *testing.T) {
	for _, c := range []struct {
		ip   string
		bits int
		want string
	}{
		{"192.0.2.7", 64, "192.0.2.7"},
		{"::ffff:192.0.2.7", 64, "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
		{"2001:DB8:1:2::9", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::/48"},
		{"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"},
		{"2001:db8:1:2:3:4:5:6", 0, "2001:db8:1:2::/64"},
		{"fe80::1%eth0", 64, "fe80::/64"},
		{"not-an-ip", 64, "not-an-ip"},
	} {
		assert.Equal(t, c.want, store.ClientNetwork(c.ip, c.bits), "%s /%d", c.ip, c.bits)
	}
}

// unblocked runs an unblock and returns the keys it removed, sorted.
func unblocked(t *testing.T, run func(func(store.RemovedCounter)) error) []string {
	t.Helper()
	var keys []string
	require.NoError(t, run(func(c store.RemovedCounter) {
		assert.Positive(t, c.Failures, c.Key)
		keys = append(keys, c.Key)
	}))
	sort.Strings(keys)
	return keys
}

func TestUnblock(t *testing.T) {
	st, srv := newStore(t)
	testUnblock(t, st)
	// nothing but counters was touched, and only those asked for went
	n, err := srv.Client(t).Exists(ctx, "{restcomm}:acct:"+store.DefaultAdminSid, "{restcomm}:orgs").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 2, n)
}

// Unblocking finds the counters on the node that owns the namespace's
// slot.
func TestUnblockOnRedisCluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	opts := store.ClientOptions{URLs: cl.URLs()}
	rdb, err := opts.NewClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	st := store.New(rdb, "")
	_, err = st.Seed(ctx, "")
	require.NoError(t, err)
	testUnblock(t, st)
}

func testUnblock(t *testing.T, st *store.Store) {
	const window = time.Minute
	admin := func(login, ip string) *store.FailedLogins {
		return store.NewFailedLogins(login, ip, window, 10, 100)
	}
	v6 := store.ClientNetwork("2001:db8:1:2::7", 64)
	for _, f := range []*store.FailedLogins{
		admin(store.DefaultAdminEmail, "192.0.2.1"),
		admin(store.DefaultAdminSid, "192.0.2.2"),
		admin(store.DefaultAdminEmail, v6),
		admin("nobody@x.com", "192.0.2.1"),
		admin("nobody@x.com", "192.0.2.11"),
	} {
		require.True(t, fail(t, st, f))
	}
	acct := func(ip string) string {
		return "{restcomm}:thr:ip:" + ip
	}

	// a login: the account's counters from every network, not the
	// networks' own
	removed := unblocked(t, func(r func(store.RemovedCounter)) error {
		return st.UnblockLogin(ctx, strings.ToUpper(store.DefaultAdminSid[:2])+store.DefaultAdminSid[2:], r)
	})
	require.Len(t, removed, 3)
	for _, k := range removed {
		assert.Contains(t, k, "{restcomm}:thr:login:")
	}
	assert.Zero(t, countOf(t, st, admin(store.DefaultAdminEmail, "192.0.2.1")).LoginIP)
	assert.Zero(t, countOf(t, st, admin(store.DefaultAdminSid, v6)).LoginIP)
	assert.Equal(t, 2, countOf(t, st, admin(store.DefaultAdminEmail, "192.0.2.1")).IP)
	assert.Equal(t, 1, countOf(t, st, admin("nobody@x.com", "192.0.2.1")).LoginIP)
	assert.Empty(t, unblocked(t, func(r func(store.RemovedCounter)) error {
		return st.UnblockLogin(ctx, store.DefaultAdminEmail, r)
	}), "nothing left to remove")

	// an IPv4 address: its own counter and every login's from it, no
	// other address's (192.0.2.11 shares its digits)
	removed = unblocked(t, func(r func(store.RemovedCounter)) error {
		return st.UnblockClient(ctx, netip.MustParsePrefix("192.0.2.1/32"), r)
	})
	require.Len(t, removed, 2)
	assert.Equal(t, acct("192.0.2.1"), removed[0])
	assert.Equal(t, store.FailureCounts{}, *countOf(t, st, admin("nobody@x.com", "192.0.2.1")))
	assert.Equal(t, 1, countOf(t, st, admin("nobody@x.com", "192.0.2.11")).LoginIP)

	// an IPv6 address: the network it was counted in
	removed = unblocked(t, func(r func(store.RemovedCounter)) error {
		return st.UnblockClient(ctx, netip.MustParsePrefix("2001:db8:1:2:ffff::1/128"), r)
	})
	assert.Equal(t, []string{acct(v6)}, removed)
	assert.Zero(t, countOf(t, st, admin(store.DefaultAdminEmail, v6)).IP)

	// a network: every address counted within it
	require.True(t, fail(t, st, admin("nobody@x.com", "192.0.2.12")))
	removed = unblocked(t, func(r func(store.RemovedCounter)) error {
		return st.UnblockClient(ctx, netip.MustParsePrefix("192.0.2.0/24"), r)
	})
	assert.Len(t, removed, 5) // .2's and .11's and .12's IP counters, and the last two's login counters
	assert.Zero(t, countOf(t, st, admin(store.DefaultAdminSid, "192.0.2.2")).IP)

	// the networks unblocked are no longer listed as failing
	ips, _, err := st.FailingIPs(ctx, 100)
	require.NoError(t, err)
	assert.Empty(t, ips)
}
