package accountsapi

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
)

// timed runs n concurrent copies of c and returns their answers and the
// longest time one took.
func timed(h *harness, n int, c func(i int) *http.Request) ([]int, time.Duration) {
	codes := make([]int, n)
	took := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			codes[i] = h.serve(c(i)).Code
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	var longest time.Duration
	for _, d := range took {
		longest = max(longest, d)
	}
	return codes, longest
}

// redis_timeout bounds each request's Redis work however many commands
// and retries it takes: with Redis paused or frozen, every request gets
// 503 within 1.2 x redis_timeout (go-redis would otherwise re-send
// reads that timed out: 3.09 s for a 1 s limit was measured so).
func TestRedisTimeoutBoundsEachRequest(t *testing.T) {
	const limit = 400 * time.Millisecond
	faults := map[string]func(h *harness) (undo func()){
		"CLIENT PAUSE ALL": func(h *harness) func() {
			c := h.redis.Client(t)
			require.NoError(t, c.Do(context.Background(), "CLIENT", "PAUSE", 3000, "ALL").Err())
			return func() { _ = c.Do(context.Background(), "CLIENT", "UNPAUSE").Err() }
		},
		"SIGSTOP": func(h *harness) func() {
			h.redis.Freeze()
			return h.redis.Thaw
		},
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, true, withRedisTimeout(limit))
			undo := fault(h)
			codes, longest := timed(h, 24, func(i int) *http.Request {
				switch i % 3 {
				case 0:
					return formRequest("GET", "/Accounts.json/"+fixture.SidDev, fixture.Users["ADMIN"], fixture.Token, "")
				case 1:
					return formRequest("PUT", "/Accounts.json/"+fixture.SidDev, fixture.Users["ADMIN"], fixture.Token, "FriendlyName=x")
				}
				return formRequest("POST", "/Accounts.json", fixture.Users["ADMIN"], fixture.Token, "EmailAddress=n@x.com&Password=RestComm12")
			})
			undo()
			for i, c := range codes {
				assert.Equal(t, http.StatusServiceUnavailable, c, "request %d", i)
			}
			assert.LessOrEqual(t, longest, limit*12/10, "the longest 503 took %v", longest)
			t.Logf("%s: longest 503 after %v (redis_timeout %v)", name, longest, limit)
		})
	}
}

// A write whose reply is lost is never sent again: the gateway asks
// whether it was applied (the request id it stored with the change) and
// answers the success it was; when it was not applied, 503 (sent again, a create
// would answer 409 for the account it had created, and a close "Account is
// closed").
func TestAWriteWhoseReplyIsLostRunsOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr)
	h := newHarness(t, true, withRedis(proxy.URL()), withRedisTimeout(time.Second))
	// a write script's call: only writes carry the guard's arguments (not
	// reads, nor the account cache's heartbeats)
	const write = "$13\r\ncaller_status\r\n"
	// load the scripts, so that the lost message is the write's own
	require.Equal(t, http.StatusOK, h.do(post("/Accounts.json", "ADMIN", "EmailAddress=warm@x.com&Password=RestComm12")).Code)
	require.Equal(t, http.StatusOK, h.do(put("/Accounts.json/warm@x.com", "ADMIN", "FriendlyName=warm")).Code)

	proxy.DropReplyTo(write)
	w := h.do(post("/Accounts.json", "ADMIN", "EmailAddress=lost@x.com&Password=RestComm12"))
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "lost@x.com")
	w = h.do(call{path: fixture.APIRoot + "/Accounts.json/lost@x.com", user: "lost@x.com", secret: "RestComm12"})
	assert.Equal(t, http.StatusOK, w.Code, "the account was created once and logs in")

	proxy.DropReplyTo(write)
	w = h.do(put("/Accounts.json/"+fixture.SidDev, "ADMIN", "Status=closed"))
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "closed")
	assert.Equal(t, store.StatusClosed, account(t, h, fixture.SidDev).Status)

	// a write Redis never received cannot be confirmed: 503, and nothing
	// was written
	proxy.DropRequest(write)
	w = h.do(post("/Accounts.json", "ADMIN", "EmailAddress=never@x.com&Password=RestComm12"))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	_, err := h.store.Account(t.Context(), "AC"+md5hex("never@x.com"))
	assert.ErrorIs(t, err, store.ErrNotFound)
	// and the next request is served as usual
	w = h.do(post("/Accounts.json", "ADMIN", "EmailAddress=never@x.com&Password=RestComm12"))
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
}

// Reads are read-only scripts (EVALSHA_RO, flags=no-writes): a write pause
// (CLIENT PAUSE WRITE, as FAILOVER uses) does not stop them, while writes
// wait and get 503 within redis_timeout.
func TestReadsGoOnDuringAWritePause(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, withRedisTimeout(300*time.Millisecond))
	require.Equal(t, http.StatusOK, h.do(get("/Accounts.json/"+fixture.SidDev, "ADMIN")).Code)
	c := h.redis.Client(t)
	require.NoError(t, c.Do(context.Background(), "CLIENT", "PAUSE", 10000, "WRITE").Err())
	paused := time.Now()
	t.Cleanup(func() { _ = c.Do(context.Background(), "CLIENT", "UNPAUSE").Err() })
	for range 50 {
		require.Equal(t, http.StatusOK, h.do(get("/Accounts.json/"+fixture.SidDev, "ADMIN")).Code)
		require.Equal(t, http.StatusOK, h.do(get("/Accounts.json", "ADMIN")).Code)
		require.Equal(t, http.StatusTeapot, h.do(get("/Accounts/"+fixture.SidDev+"/Calls.json", "DEV")).Code)
	}
	require.Equal(t, http.StatusServiceUnavailable, h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, user: fixture.SidDev, secret: "wrong"}).Code,
		"a failed login cannot be counted during the pause: 503, never an uncounted 401")
	w := h.do(put("/Accounts.json/"+fixture.SidDev, "ADMIN", "FriendlyName=paused"))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Less(t, time.Since(paused), 10*time.Second, "all of it within the pause")
	require.NoError(t, c.Do(context.Background(), "CLIENT", "UNPAUSE").Err())
	assert.NotEqual(t, "paused", account(t, h, fixture.SidDev).FriendlyName)
	assert.True(t, strings.HasPrefix(account(t, h, fixture.SidDev).EmailAddress, "child"))
}
