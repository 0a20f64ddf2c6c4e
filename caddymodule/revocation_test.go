package caddymodule

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store/accountcache"
)

// revocationBound is how soon every instance honours a change that revokes
// access: the account cache trusts its entries only while its
// heartbeat came back less than accountcache.DefaultTrustFor ago.
const revocationBound = 100 * time.Millisecond

// twoInstances returns two gateways on one Redis with caches of their own
// (the second reaches Redis through a proxy that can cut its subscription),
// both having served DEV from memory.
func twoInstances(t *testing.T) (one, two *harness, proxy *redistest.Proxy) {
	t.Helper()
	require.LessOrEqual(t, accountcache.DefaultTrustFor, revocationBound)
	one = newHarness(t, true)
	proxy = redistest.NewProxy(t, one.redis.Addr)
	two = newHarness(t, false, func(g *Gateway) { g.Redis.URLs = []string{proxy.URL()} })
	require.NotSame(t, one.g.cache, two.g.cache)
	for _, h := range []*harness{one, two} {
		h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "DEV"}) // starts the cache
		require.Eventually(t, h.g.cache.cache.Trusted, 10*time.Second, time.Millisecond)
	}
	return one, two, proxy
}

// readAsDev reads DEV's account with secret, each time from another
// client IP, so that the refusals these tests wait for are not throttled.
func readAsDev(h *harness, secret string) int {
	n := clients.Add(1)
	remote := fmt.Sprintf("10.%d.%d.%d:1000", n>>16&255, n>>8&255, n&255)
	return h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, user: fixture.SidDev, secret: secret, remote: remote}).Code
}

var clients atomic.Int64

func changeDevPassword(t *testing.T, h *harness, secret, password string) {
	t.Helper()
	w := h.do(call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev,
		user: fixture.SidDev, secret: secret, form: "Password=" + url.QueryEscape(password)})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
}

// A password change through one instance is honoured by that instance at
// once and by the other within revocationBound, 100 times in a row. The
// bound holds whatever the machine's load: if the change message is late,
// the other instance's heartbeat is too, and it stops using its cache.
func TestRevocationReachesEveryInstance(t *testing.T) {
	t.Parallel()
	one, two, _ := twoInstances(t)
	secret := fixture.Token
	var slowest time.Duration
	for i := range 100 {
		for range 3 { // served from memory on both
			require.Equal(t, http.StatusOK, readAsDev(one, secret))
			require.Equal(t, http.StatusOK, readAsDev(two, secret))
		}
		next := "Revoked#" + strconv.Itoa(i) + "xQz"
		changeDevPassword(t, one, secret, next)
		changed := time.Now()
		require.Equal(t, http.StatusUnauthorized, readAsDev(one, secret), "round %d: the instance that made the change", i)
		for {
			began := time.Since(changed)
			if readAsDev(two, secret) == http.StatusUnauthorized {
				break
			}
			// a request begun this late must have been refused, however
			// long it then took on a loaded machine
			require.Less(t, began, revocationBound, "round %d: the other instance still accepts the old password", i)
			time.Sleep(time.Millisecond) // polled: how soon it is refused is what is checked
		}
		slowest = max(slowest, time.Since(changed))
		assert.Equal(t, http.StatusOK, readAsDev(two, next), "round %d", i)
		secret = next
	}
	t.Logf("slowest revocation seen by the other instance: %s", slowest)
	s := two.g.cache.cache.Stats()
	assert.Positive(t, s.Hits, "the other instance did serve from memory")
}

// With its subscription cut, an instance no longer trusts its cache: a
// change made right after the cut is honoured at once. A subscription that
// goes silent instead (a partition) is given up within revocationBound.
func TestRevocationWithTheSubscriptionCut(t *testing.T) {
	t.Parallel()
	one, two, proxy := twoInstances(t)
	secret := fixture.Token
	for i := range 10 {
		require.Eventually(t, two.g.cache.cache.Trusted, 10*time.Second, time.Millisecond)
		require.Equal(t, http.StatusOK, readAsDev(two, secret))
		proxy.CutSubscribers()
		require.Eventually(t, func() bool { return !two.g.cache.cache.Trusted() }, 10*time.Second, 50*time.Microsecond)
		next := "Cut#" + strconv.Itoa(i) + "xQz9"
		changeDevPassword(t, one, secret, next)
		assert.Equal(t, http.StatusUnauthorized, readAsDev(two, secret), "round %d", i)
		secret = next
	}

	require.Eventually(t, two.g.cache.cache.Trusted, 10*time.Second, time.Millisecond)
	require.Equal(t, http.StatusOK, readAsDev(two, secret))
	proxy.SilenceSubscribers()
	changeDevPassword(t, one, secret, "Silent#1xQz9")
	// the behaviour under test: once revocationBound has passed, a silent
	// subscription is given up (its heartbeat runs on the wall clock)
	time.Sleep(revocationBound)
	assert.Equal(t, http.StatusUnauthorized, readAsDev(two, secret))
}
