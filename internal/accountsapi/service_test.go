package accountsapi

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
)

// countingResolver resolves through the store and counts the round trips.
type countingResolver struct {
	store *store.Store
	calls atomic.Int64
}

func (r *countingResolver) ResolveCounting(ctx context.Context, fl *store.FailedLogins, lookups ...store.Lookup) ([]store.Resolved, *store.FailureCounts, error) {
	r.calls.Add(1)
	return r.store.ResolveCounting(ctx, fl, lookups...)
}

// hooks records what the service tells Config's hooks.
type hooks struct {
	writes atomic.Int64
	mu     sync.Mutex
	failed []string // the client IPs of failed logins
}

func (k *hooks) configure(c *setup) {
	c.AfterWrite = func() { k.writes.Add(1) }
	c.AfterFailedLogin = func(ip string) {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.failed = append(k.failed, ip)
	}
}

func (k *hooks) failedLogins() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.failed...)
}

// What an in-process cache of resolved accounts plugs into: every caller
// and target is resolved through Config.Resolver; AfterWrite follows every
// change the service made, and no refused one; AfterFailedLogin every
// failed login it counted, with the client IP Config.ClientIP gives.
func TestResolverAndWriteHooks(t *testing.T) {
	t.Parallel()
	resolver, k := new(countingResolver), new(hooks)
	h := newHarness(t, true, k.configure, func(c *setup) {
		c.Resolver = resolver
		c.ClientIP = func(r *http.Request) string { return r.Header.Get("X-Test-Client") }
	})
	resolver.store = h.store
	changed := func(c call, status int, what string) {
		t.Helper()
		before := k.writes.Load()
		w := h.do(c)
		require.Equal(t, status, w.Code, "%s: %s", what, w.Body.String())
		assert.Equal(t, before+1, k.writes.Load(), "%s: AfterWrite once", what)
	}
	unchanged := func(c call, status int, what string) {
		t.Helper()
		before := k.writes.Load()
		w := h.do(c)
		require.Equal(t, status, w.Code, "%s: %s", what, w.Body.String())
		assert.Equal(t, before, k.writes.Load(), "%s: no AfterWrite", what)
	}

	unchanged(get("/Accounts.json/"+fixture.SidDev, "ADMIN"), http.StatusOK, "a read")
	assert.Positive(t, resolver.calls.Load(), "resolved through the Resolver")
	unchanged(get("/Accounts.json", "ADMIN"), http.StatusOK, "a list")
	changed(post("/Accounts.json", "ADMIN", "EmailAddress=hook@company.com&Password=RestComm12"), http.StatusOK, "a create")
	unchanged(post("/Accounts.json", "ADMIN", "EmailAddress=hook@company.com&Password=RestComm12"), http.StatusConflict, "a duplicate create")
	changed(put("/Accounts.json/hook@company.com", "ADMIN", "FriendlyName=hooked"), http.StatusOK, "an update")
	unchanged(put("/Accounts.json/"+fixture.SidClosed, "ADMIN", "FriendlyName=x"), http.StatusBadRequest, "an update of a closed account")
	changed(post("/Accounts.json/migrate/"+fixture.SidDev, "ADMIN", "Organization="+fixture.SidOrg1), http.StatusOK, "a migration")
	changed(put("/Organizations.json/hooks", "ADMIN", ""), http.StatusOK, "an organization created")
	unchanged(put("/Organizations.json/hooks", "ADMIN", ""), http.StatusConflict, "a taken domain")

	assert.Empty(t, k.failedLogins())
	wrong := get("/Accounts.json/"+fixture.SidDev, "")
	wrong.user, wrong.secret, wrong.header = fixture.SidDev, "wrong", http.Header{"X-Test-Client": {"198.51.100.7"}}
	unchanged(wrong, http.StatusUnauthorized, "a failed login")
	assert.Equal(t, []string{"198.51.100.7"}, k.failedLogins())
}

// A change whose outcome is unknown (the store failed during it) may have
// been made: AfterWrite is told, and the client gets 503.
func TestAfterWriteOnAnUncertainWrite(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr)
	k := new(hooks)
	h := newHarness(t, true, withRedis(proxy.URL()), withRedisTimeout(time.Second), k.configure)
	// load the scripts, so that the lost message is the write's own
	require.Equal(t, http.StatusOK, h.do(put("/Accounts.json/"+fixture.SidDev, "ADMIN", "FriendlyName=warm")).Code)
	before := k.writes.Load()
	proxy.DropRequest("$4\r\nlost\r\n") // the write's own request, not a cache heartbeat
	w := h.do(put("/Accounts.json/"+fixture.SidDev, "ADMIN", "FriendlyName=lost"))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, before+1, k.writes.Load())
}

// What the service stores and shows is dated by Config.Now.
func TestClock(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	h := newHarness(t, true, func(c *setup) { c.Now = func() time.Time { return now } })
	w := h.do(post("/Accounts.json", "ADMIN", "EmailAddress=clock@company.com&Password=RestComm12"))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "Wed, 2 Jan 2030 03:04:05 +0000", jsonObject(t, w.Body.String())["date_created"])
	a := account(t, h, "AC"+md5hex("clock@company.com"))
	assert.True(t, now.Equal(a.DateCreated), "stored %v", a.DateCreated)
	assert.True(t, now.Equal(a.DateUpdated), "stored %v", a.DateUpdated)
}

// staleMemory is a MemoryResolver whose memory still holds the accounts as
// they were read once, as another gateway's cache does for a moment after
// a change made elsewhere.
type staleMemory struct {
	store  *store.Store
	frozen map[store.Lookup]store.Resolved
}

func (m *staleMemory) ResolveCounting(ctx context.Context, fl *store.FailedLogins, lookups ...store.Lookup) ([]store.Resolved, *store.FailureCounts, error) {
	return m.store.ResolveCounting(ctx, fl, lookups...)
}

func (m *staleMemory) FailedLogin(string) {}

func (m *staleMemory) Failing(string) bool { return false }

func (m *staleMemory) Cached(fl *store.FailedLogins, lookups ...store.Lookup) ([]store.Resolved, *store.FailureCounts, bool) {
	out := make([]store.Resolved, len(lookups))
	for i, l := range lookups {
		r, ok := m.frozen[l]
		if !ok {
			return nil, nil, false
		}
		out[i] = r
	}
	return out, &store.FailureCounts{}, true
}

// A write decided on a caller that memory still holds as it was, refused
// by its guard (the caller changed), is decided again on the caller as
// Redis holds it, and answered as RestComm would answer now, not 503.
func TestAStaleWriteIsDecidedAgainFromRedis(t *testing.T) {
	t.Parallel()
	mem := &staleMemory{frozen: map[store.Lookup]store.Resolved{}}
	h := newHarness(t, true, func(c *setup) {
		c.Resolver = mem
	})
	mem.store = h.store
	require.Equal(t, http.StatusOK, h.do(get("/Accounts.json/"+fixture.SidDev, "DEV")).Code) // marks the namespace
	for _, l := range []store.Lookup{{Mode: store.ByLogin, ID: fixture.Users["DEV"]}, {Mode: store.ByID, ID: fixture.SidDev}} {
		res, err := h.store.Resolve(t.Context(), l)
		require.NoError(t, err)
		mem.frozen[l] = res[0]
	}
	suspended := store.StatusSuspended
	_, err := h.store.UpdateAccount(t.Context(), nil, fixture.SidDev, store.AccountUpdate{Status: &suspended, Now: time.Now()})
	require.NoError(t, err)

	w := h.do(put("/Accounts.json/"+fixture.SidDev, "DEV", "FriendlyName=renamed"))
	assert.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "Provided Account is not active")
	assert.NotEqual(t, "renamed", account(t, h, fixture.SidDev).FriendlyName)
}
