package accountsapi

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/accountcache"
)

// loginRequest is a read of DEV's account by user:secret from remote (host:port).
func loginRequest(user, secret, remote string) *http.Request {
	r := newRequest(http.MethodGet, fixture.APIRoot+"/Accounts.json/"+fixture.SidDev, nil)
	r.Header.Set("Authorization", fixture.Basic(user, secret))
	r.RemoteAddr = remote
	return r
}

// statuses counts the statuses of responses.
type statuses struct {
	mu sync.Mutex
	n  map[int]int
}

func (s *statuses) add(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[int]int{}
	}
	s.n[code]++
}

func (s *statuses) get(code int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[code]
}

// cachedHarness is a harness with its account cache, trusted and holding
// DEV's account (read once from elsewhere).
func cachedHarness(t *testing.T, configure ...func(*setup)) (*harness, *accountcache.Cache) {
	t.Helper()
	h := newHarness(t, true, configure...)
	cache, ok := h.s.resolver.(*accountcache.Cache)
	require.True(t, ok, "the harness's account cache")
	require.Equal(t, http.StatusOK, h.serve(loginRequest(fixture.SidDev, fixture.Token, "203.0.113.1:1")).Code)
	require.Eventually(t, cache.Trusted, 10*time.Second, time.Millisecond)
	hits := cache.Stats().Hits
	require.Equal(t, http.StatusOK, h.serve(loginRequest(fixture.SidDev, fixture.Token, "203.0.113.1:1")).Code)
	require.Greater(t, cache.Stats().Hits, hits, "answered from memory")
	return h, cache
}

// 100 wrong passwords at once from one fresh address get at most 10
// password checks: 10 answers 401, the other 90 the policy's 429. The
// count is checked and added in one step, whether the account was read
// from memory or from Redis.
func TestAParallelBurstGetsTheLimitOfGuesses(t *testing.T) {
	t.Parallel()
	for _, cached := range []bool{true, false} {
		t.Run(fmt.Sprintf("cached=%t", cached), func(t *testing.T) {
			t.Parallel()
			var h *harness
			if cached {
				h, _ = cachedHarness(t)
			} else {
				h = newHarness(t, true, func(c *setup) { c.noCache = true })
			}
			var got statuses
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 100 {
				wg.Go(func() {
					<-start
					user := fixture.SidDev
					if i%2 == 1 {
						user = fixture.Users["DEV"] // one count for both logins
					}
					w := h.serve(loginRequest(user, "wrong"+strconv.Itoa(i), "192.0.2.50:1"))
					got.add(w.Code)
					if w.Code == http.StatusTooManyRequests {
						after, err := strconv.Atoi(w.Header().Get("Retry-After"))
						assert.NoError(t, err)
						assert.True(t, after >= 1 && after <= 300, "Retry-After %d", after)
					}
				})
			}
			close(start)
			wg.Wait()
			assert.Equal(t, 10, got.get(http.StatusUnauthorized), "password checks answered")
			assert.Equal(t, 90, got.get(http.StatusTooManyRequests))
			// and the right password is refused now, from either login
			for _, user := range []string{fixture.SidDev, fixture.Users["DEV"]} {
				assert.Equal(t, http.StatusTooManyRequests, h.serve(loginRequest(user, fixture.Token, "192.0.2.50:2")).Code)
			}
		})
	}
}

// The right password sent while a burst of wrong ones runs, once the
// limit has been answered, is refused like them: a success answered from
// memory stands only if no failure from its address was marked meanwhile.
func TestTheRightPasswordAmidABurstIsRefusedOnceTheLimitIsReached(t *testing.T) {
	t.Parallel()
	h, _ := cachedHarness(t)
	const remote = "192.0.2.60:1"
	var unauthorized atomic.Int64
	limit := make(chan struct{})
	var once sync.Once
	var wrong, right statuses
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			w := h.serve(loginRequest(fixture.SidDev, "wrong"+strconv.Itoa(i), remote))
			wrong.add(w.Code)
			if w.Code == http.StatusUnauthorized && unauthorized.Add(1) == 10 {
				once.Do(func() { close(limit) })
			}
		})
	}
	for range 20 {
		wg.Go(func() {
			<-limit
			right.add(h.serve(loginRequest(fixture.Users["DEV"], fixture.Token, remote)).Code)
		})
	}
	wg.Wait()
	assert.Equal(t, 10, wrong.get(http.StatusUnauthorized))
	assert.Equal(t, 90, wrong.get(http.StatusTooManyRequests))
	assert.Equal(t, 20, right.get(http.StatusTooManyRequests), "no 200 after the limit")
}

// failingMidway is an account cache that, as it answers from memory,
// lets failures from the same address be counted (through this gateway:
// marked first) before the answer is used: what a burst's other requests
// do between a request's lookup and its password check.
type failingMidway struct {
	*accountcache.Cache
	during func(fl *store.FailedLogins)
}

func (m *failingMidway) Cached(fl *store.FailedLogins, lookups ...store.Lookup) ([]store.Resolved, *store.FailureCounts, bool) {
	res, counts, ok := m.Cache.Cached(fl, lookups...)
	if ok && fl != nil && m.during != nil {
		m.during(fl)
	}
	return res, counts, ok
}

// A right password verified on what memory answered does not stand when a
// failure from its address was counted meanwhile: it is decided again on
// Redis, with the counts.
func TestARightPasswordFromMemoryMeetsFailuresCountedMeanwhile(t *testing.T) {
	t.Parallel()
	mem := &failingMidway{}
	h, cache := cachedHarness(t)
	mem.Cache = cache
	h.s.resolver = mem
	mem.during = func(fl *store.FailedLogins) {
		mem.during = nil
		for range 10 {
			cache.FailedLogin(fl.IP)
			counted, _, err := h.store.CountFailedLogin(context.Background(), fl)
			require.NoError(t, err)
			require.True(t, counted)
		}
	}
	w := h.serve(loginRequest(fixture.SidDev, fixture.Token, "192.0.2.70:1"))
	assert.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Nil(t, mem.during, "the request was answered from memory first")
}

// A login by SID and one by e-mail address of the same account share one
// count: 10 guesses in all, not 10 each. Logins that name no account keep
// their own count, and do not use up the account's.
func TestOneAccountOneCount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	const remote = "192.0.2.80:1"
	for i := range 10 {
		user := fixture.SidDev
		if i%2 == 1 {
			user = fixture.Users["DEV"]
		}
		require.Equal(t, http.StatusUnauthorized, h.serve(loginRequest(user, "wrong", remote)).Code, "failure %d", i+1)
	}
	for _, user := range []string{fixture.SidDev, fixture.Users["DEV"]} {
		assert.Equal(t, http.StatusTooManyRequests, h.serve(loginRequest(user, "wrong", remote)).Code, user)
		assert.Equal(t, http.StatusTooManyRequests, h.serve(loginRequest(user, fixture.Token, remote)).Code, user)
	}
	// unknown logins: each its own ten
	for i := range 10 {
		require.Equal(t, http.StatusUnauthorized, h.serve(loginRequest("ghost@company.com", "wrong", remote)).Code, "ghost %d", i+1)
	}
	assert.Equal(t, http.StatusTooManyRequests, h.serve(loginRequest("ghost@company.com", "wrong", remote)).Code)
	assert.Equal(t, http.StatusUnauthorized, h.serve(loginRequest("phantom@company.com", "wrong", remote)).Code)
	// another account from the same address is not blocked
	r := loginRequest(fixture.Users["ADMIN"], fixture.Token, remote)
	assert.Equal(t, http.StatusOK, h.serve(r).Code)
}

// IPv6 clients are counted per network (/64 by default: what one host
// usually holds), IPv4 clients per address; the policy's
// ipv6_prefix_length changes the network.
func TestIPv6ClientsAreCountedPerNetwork(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	for i := range 10 {
		remote := fmt.Sprintf("[2001:db8:1:2::%x]:1", i+1)
		require.Equal(t, http.StatusUnauthorized, h.serve(loginRequest(fixture.SidDev, "wrong", remote)).Code, "failure %d", i+1)
	}
	assert.Equal(t, http.StatusTooManyRequests, h.serve(loginRequest(fixture.SidDev, fixture.Token, "[2001:db8:1:2:ffff:ffff:ffff:ffff]:1")).Code, "same /64")
	assert.Equal(t, http.StatusOK, h.serve(loginRequest(fixture.SidDev, fixture.Token, "[2001:db8:1:3::1]:1")).Code, "another /64")
	// IPv4 per address, and an IPv4-mapped address is the IPv4 address
	for i := range 10 {
		require.Equal(t, http.StatusUnauthorized, h.serve(loginRequest(fixture.SidDev, "wrong", "192.0.2.90:1")).Code, "failure %d", i+1)
	}
	assert.Equal(t, http.StatusTooManyRequests, h.serve(loginRequest(fixture.SidDev, fixture.Token, "[::ffff:192.0.2.90]:1")).Code)
	assert.Equal(t, http.StatusOK, h.serve(loginRequest(fixture.SidDev, fixture.Token, "192.0.2.91:1")).Code)

	dir := copyPolicy(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "restcomm", "throttle", "data.json"),
		[]byte(`{"window_seconds": 60, "login_ip_max_failures": 2, "ip_max_failures": 100, "ipv6_prefix_length": 48}`), 0o644))
	h = newHarness(t, true, withPolicyDir(t, dir, "replace"))
	for _, remote := range []string{"[2001:db8:1:2::1]:1", "[2001:db8:1:3::1]:1"} {
		require.Equal(t, http.StatusUnauthorized, h.serve(loginRequest(fixture.SidDev, "wrong", remote)).Code)
	}
	assert.Equal(t, http.StatusTooManyRequests, h.serve(loginRequest(fixture.SidDev, fixture.Token, "[2001:db8:1:4::1]:1")).Code, "same /48")
	assert.Equal(t, http.StatusOK, h.serve(loginRequest(fixture.SidDev, fixture.Token, "[2001:db8:2::1]:1")).Code, "another /48")
}

// redisFault is a way for Redis to refuse writes while it still answers
// reads.
type redisFault struct {
	name         string
	start, clear func(t *testing.T, h *harness)
}

func do(t *testing.T, rdb *redis.Client, args ...any) {
	t.Helper()
	require.NoError(t, rdb.Do(context.Background(), args...).Err(), "%v", args)
}

// replicaOf makes srv a replica of master and waits until it holds
// master's data.
func replicaOf(t *testing.T, srv, master *redistest.Server) {
	t.Helper()
	host, port, _ := strings.Cut(master.Addr, ":")
	rdb := srv.Client(t)
	do(t, rdb, "REPLICAOF", host, port)
	require.Eventually(t, func() bool {
		info, err := rdb.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up") && strings.Contains(info, "master_sync_in_progress:0")
	}, 10*time.Second, 10*time.Millisecond)
}

var redisFaults = []redisFault{
	{
		name: "client pause write",
		start: func(t *testing.T, h *harness) {
			do(t, h.redis.Client(t), "CLIENT", "PAUSE", 5000, "WRITE")
		},
		clear: func(t *testing.T, h *harness) { do(t, h.redis.Client(t), "CLIENT", "UNPAUSE") },
	},
	{
		name: "out of memory",
		start: func(t *testing.T, h *harness) {
			do(t, h.redis.Client(t), "CONFIG", "SET", "maxmemory-policy", "noeviction")
			do(t, h.redis.Client(t), "CONFIG", "SET", "maxmemory", 1)
		},
		clear: func(t *testing.T, h *harness) { do(t, h.redis.Client(t), "CONFIG", "SET", "maxmemory", 0) },
	},
	{
		// a failover: the master the gateway talks to becomes a read-only
		// replica of the new master, which holds the same data
		name: "read-only replica",
		start: func(t *testing.T, h *harness) {
			promoted := redistest.Start(t)
			replicaOf(t, promoted, h.redis)
			do(t, promoted.Client(t), "REPLICAOF", "NO", "ONE")
			replicaOf(t, h.redis, promoted)
		},
		clear: func(t *testing.T, h *harness) { do(t, h.redis.Client(t), "REPLICAOF", "NO", "ONE") },
	},
}

// Redis refusing writes (paused, out of memory, a read-only replica during
// a failover) leaves a failed login uncounted: it is answered 503, never
// 401, so guessing does not go on unlimited; a right password still logs
// in where no write is needed. The refusals are logged sampled.
func TestFailedLoginsFailClosedWhenRedisRefusesWrites(t *testing.T) {
	t.Parallel()
	for _, fault := range redisFaults {
		t.Run(fault.name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zapcore.InfoLevel)
			sampler := NewLogSampler(LogSampleWindow, LogSampleBurst)
			h, _ := cachedHarness(t, withRedisTimeout(300*time.Millisecond), func(c *setup) {
				c.Logger = zap.New(core)
				c.Logs = sampler
			})
			// every script loaded, as on a gateway that has run a while
			require.Equal(t, http.StatusUnauthorized, h.serve(loginRequest(fixture.SidDev, "wrong", "198.51.100.1:1")).Code)
			fault.start(t, h)
			defer fault.clear(t, h)

			const remote = "192.0.2.100:1"
			var got statuses
			var wg sync.WaitGroup
			for i := range 60 {
				wg.Go(func() {
					w := h.serve(loginRequest(fixture.SidDev, "wrong"+strconv.Itoa(i), remote))
					got.add(w.Code)
					if w.Code == http.StatusServiceUnavailable {
						assert.Contains(t, w.Body.String(), "Account store unavailable")
						assert.Equal(t, "1", w.Header().Get("Retry-After"))
					}
				})
			}
			wg.Wait()
			assert.Zero(t, got.get(http.StatusUnauthorized), "no uncounted 401")
			assert.Equal(t, 60, got.get(http.StatusServiceUnavailable))
			// reads need no write: the right password logs in, from the
			// same address (read from Redis) and from another
			assert.Equal(t, http.StatusOK, h.serve(loginRequest(fixture.SidDev, fixture.Token, remote)).Code)
			assert.Equal(t, http.StatusOK, h.serve(loginRequest(fixture.Users["DEV"], fixture.Token, "192.0.2.101:1")).Code)

			const msg = "failed login not counted; answered 503"
			events, _, _ := sampledCounts(logs, msg)
			assert.Positive(t, events)
			assert.LessOrEqual(t, events, 2*LogSampleBurst, "sampled: at most a burst per second and cause")
			for _, e := range logs.FilterMessage(msg).All() {
				assert.NotContains(t, e.ContextMap(), "login", "no credentials logged")
			}

			fault.clear(t, h)
			require.Eventually(t, func() bool {
				return h.serve(loginRequest(fixture.SidDev, "wrong", remote)).Code == http.StatusUnauthorized
			}, 10*time.Second, 50*time.Millisecond, "counted again once Redis takes writes")
			waitReports(t, sampler)
			events, _, dropped := sampledCounts(logs, msg)
			assert.Equal(t, 60, events+dropped, "every refusal written or counted")
		})
	}
}
