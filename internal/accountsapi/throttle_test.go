package accountsapi

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
)

// onRedisOf makes a second gateway instance share first's Redis.
func onRedisOf(first *harness) func(*setup) {
	return withRedis(first.redis.URL())
}

// Failed logins are throttled per (login, client IP) and per client IP,
// shared by every instance on one Redis; a right password does not lift a
// block, and another IP is not affected by a login's block.
func TestFailedLoginsAreThrottledAcrossInstances(t *testing.T) {
	t.Parallel()
	one := newHarness(t, true)
	two := newHarness(t, false, onRedisOf(one))
	instances := []*harness{one, two}
	read := func(h *harness, user, secret, remote string) *http.Response {
		t.Helper()
		return h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, user: user, secret: secret, remote: remote}).Result()
	}
	const ip, other = "192.0.2.7:4000", "192.0.2.8:4000"
	for i := range 10 {
		res := read(instances[i%2], fixture.SidDev, "wrong", ip)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, "failure %d", i+1)
	}
	for _, h := range instances {
		for _, secret := range []string{"wrong", fixture.Token} {
			res := read(h, fixture.SidDev, secret, ip)
			assert.Equal(t, http.StatusTooManyRequests, res.StatusCode, "the 11th attempt, secret %q", secret)
			after, err := strconv.Atoi(res.Header.Get("Retry-After"))
			require.NoError(t, err)
			assert.True(t, after >= 1 && after <= 300, "Retry-After %d", after)
		}
		// the same login in another case is the same login
		res := read(h, strings.ToUpper(fixture.SidDev[:2])+fixture.SidDev[2:], fixture.Token, ip)
		assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	}
	// the same SID from another IP still logs in, and so do other logins
	// from the blocked IP
	assert.Equal(t, http.StatusOK, read(two, fixture.SidDev, fixture.Token, other).StatusCode)
	assert.Equal(t, http.StatusOK, read(one, fixture.Users["ADMIN"], fixture.Token, ip).StatusCode)

	// an IP is blocked for every login after 100 failures of any logins
	const noisy = "198.51.100.9:5000"
	for i := range 100 {
		res := read(instances[i%2], "user"+strconv.Itoa(i)+"@x.com", "wrong", noisy)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, "failure %d", i+1)
	}
	assert.Equal(t, http.StatusTooManyRequests, read(one, fixture.Users["ADMIN"], fixture.Token, noisy).StatusCode)
	assert.Equal(t, http.StatusOK, read(two, fixture.Users["ADMIN"], fixture.Token, other).StatusCode)
}

// The thresholds are the policy's data: a policy directory that changes
// them changes the gateway's counting and blocking.
func TestThrottleThresholdsArePolicyData(t *testing.T) {
	t.Parallel()
	dir := copyPolicy(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "restcomm", "throttle", "data.json"),
		[]byte(`{"window_seconds": 60, "login_ip_max_failures": 2, "ip_max_failures": 100}`), 0o644))
	h := newHarness(t, true, withPolicyDir(t, dir, "replace"))
	c := call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, user: fixture.SidDev, secret: "wrong"}
	assert.Equal(t, http.StatusUnauthorized, h.do(c).Code)
	assert.Equal(t, http.StatusUnauthorized, h.do(c).Code)
	c.secret = fixture.Token
	w := h.do(c)
	assert.Equal(t, http.StatusTooManyRequests, w.Code)
	after, err := strconv.Atoi(w.Header().Get("Retry-After"))
	require.NoError(t, err)
	assert.True(t, after >= 1 && after <= 60, "Retry-After %d", after)
}

// Successful requests pay no Redis round trip for the throttle: compare
// with the policy that has no throttle data, answered from the account
// cache and from Redis (go test -bench Throttle).
func BenchmarkAuthenticatedReadThrottle(b *testing.B) {
	for _, from := range []string{"memory", "redis"} {
		for _, throttled := range []bool{true, false} {
			name := from + "/on"
			if !throttled {
				name = from + "/off"
			}
			b.Run(name, func(b *testing.B) {
				dir := copyPolicy(b)
				if !throttled {
					require.NoError(b, os.RemoveAll(filepath.Join(dir, "restcomm", "throttle")))
				}
				h := newHarness(b, true, withPolicyDir(b, dir, "replace"), func(c *setup) { c.noCache = from == "redis" })
				c := call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "DEV"}
				b.ResetTimer()
				for b.Loop() {
					if w := h.do(c); w.Code != http.StatusOK {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		}
	}
}
