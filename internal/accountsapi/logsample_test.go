package accountsapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/store"
)

// sampledCounts reads the log lines of one message: the lines written for
// single events, the report lines, and the events the reports say were
// dropped.
func sampledCounts(logs *observer.ObservedLogs, msg string) (events, reports, dropped int) {
	for _, e := range logs.FilterMessage(msg).All() {
		if n, ok := e.ContextMap()["dropped"]; ok {
			reports++
			dropped += int(n.(int64))
		} else {
			events++
		}
	}
	return events, reports, dropped
}

// waitReports waits until every scheduled report has been written.
func waitReports(t *testing.T, s *LogSampler) {
	t.Helper()
	require.Eventually(t, func() bool { return !s.Pending() }, 10*time.Second, 10*time.Millisecond, "reports written")
}

func TestLogSamplerBoundsLinesAndCountsTheRest(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	l := zap.New(core)
	s := NewLogSampler(100*time.Millisecond, 3)
	start := time.Now()
	for i := range 2000 {
		cause := "a"
		if i%2 == 1 {
			cause = "b"
		}
		s.Error(l, cause, "boom", zap.Int("i", i))
		if i%100 == 0 { // spread over several windows: the sampler reads the wall clock
			time.Sleep(5 * time.Millisecond)
		}
	}
	elapsed := time.Since(start)
	waitReports(t, s)
	events, reports, dropped := sampledCounts(logs, "boom")
	assert.Equal(t, 2000, events+dropped, "every event is written or counted")
	windows := int(elapsed/(100*time.Millisecond)) + 2
	assert.LessOrEqual(t, events, 2*3*windows, "at most 3 lines per window and cause")
	assert.LessOrEqual(t, reports, 2*windows, "at most one report per window and cause")
	// each cause is accounted for separately
	for _, cause := range []string{"a", "b"} {
		n := 0
		for _, e := range logs.FilterMessage("boom").FilterField(zap.String("cause", cause)).All() {
			if d, ok := e.ContextMap()["dropped"]; ok {
				n += int(d.(int64))
			} else {
				n++
			}
		}
		assert.Equal(t, 1000, n, cause)
	}
	// the first lines of a burst keep their details
	assert.EqualValues(t, 0, logs.FilterMessage("boom").All()[0].ContextMap()["i"])
}

// A level that is not logged is not counted either; a nil sampler logs
// everything.
func TestLogSamplerEdges(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.ErrorLevel)
	l := zap.New(core)
	s := NewLogSampler(time.Second, 1)
	for range 10 {
		s.Warn(l, "x", "quiet")
	}
	waitReports(t, s)
	assert.Zero(t, logs.Len())
	var none *LogSampler
	for range 10 {
		none.Error(l, "x", "loud")
	}
	assert.Equal(t, 10, logs.FilterMessage("loud").Len())
}

// Redis stopped, 1,000 requests: every one is answered 503, the log holds a
// few lines a second, and what was dropped adds up to the requests.
func TestRedisOutageLogIsSampled(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	h := newHarness(t, true, withRedisTimeout(100*time.Millisecond), func(c *setup) { c.Logger = zap.New(core) })
	h.redis.Stop()

	const requests, workers = 1000, 50
	var wg sync.WaitGroup
	codes := make(chan int, requests)
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for i := w; i < requests; i += workers {
				r := httptest.NewRequest(http.MethodGet, "https://gw.example.com"+fixture.APIRoot+"/Accounts.json/"+fixture.SidAdmin, nil)
				r.Header.Set("Authorization", fixture.Basic(fixture.Users["ADMIN"], fixture.Token))
				rec := httptest.NewRecorder()
				_ = h.s.ServeHTTP(rec, r, nil)
				codes <- rec.Code
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(codes)
	for c := range codes {
		require.Equal(t, http.StatusServiceUnavailable, c)
	}
	waitReports(t, h.s.cfg.Logs)

	events, reports, dropped := sampledCounts(logs, "account store unavailable")
	assert.Equal(t, requests, events+dropped, "every failure is logged or counted")
	causes := map[string]bool{}
	for _, e := range logs.FilterMessage("account store unavailable").All() {
		causes[e.ContextMap()["cause"].(string)] = true
	}
	windows := int(elapsed/LogSampleWindow) + 2
	bound := len(causes) * windows * (LogSampleBurst + 1)
	assert.LessOrEqual(t, events+reports, bound, "%d lines in %s for %d causes %v", events+reports, elapsed, len(causes), causes)
	assert.Positive(t, reports)
	t.Logf("%d requests in %s: %d lines (%d events, %d reports of %d dropped), causes %v",
		requests, elapsed.Round(time.Millisecond), events+reports, events, reports, dropped, causes)
}

func TestErrorCause(t *testing.T) {
	t.Parallel()
	_, dialErr := net.Dial("tcp", "127.0.0.1:1")
	for want, err := range map[string]error{
		"store lost its data":   errStoreLost,
		"store not initialized": errStoreEmpty,
		"not replicated":        &store.NotReplicatedError{Want: 1},
		"stale":                 store.ErrStale,
		"dial failed":           dialErr,
		"other":                 errors.New("x"),
		"timeout":               context.DeadlineExceeded,
	} {
		assert.Equal(t, want, ErrorCause(err), "%v", err)
	}
	// out of time while Redis refused to connect: refused, not a timeout
	assert.Equal(t, "dial failed", ErrorCause(&store.UnreachableError{Err: context.DeadlineExceeded, Dial: dialErr}))
}

// With Redis down (connections refused), the unavailable store is logged
// with that cause, though each request ran out of time retrying.
func TestRedisDownIsLoggedAsRefused(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	h := newHarness(t, true, withRedisTimeout(200*time.Millisecond), func(c *setup) { c.Logger = zap.New(core) })
	h.redis.Stop()
	for range 3 {
		r := httptest.NewRequest(http.MethodGet, "https://gw.example.com"+fixture.APIRoot+"/Accounts.json/"+fixture.SidAdmin, nil)
		r.Header.Set("Authorization", fixture.Basic(fixture.Users["ADMIN"], fixture.Token))
		rec := httptest.NewRecorder()
		_ = h.s.ServeHTTP(rec, r, nil)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	}
	entries := logs.FilterMessage("account store unavailable").All()
	require.NotEmpty(t, entries)
	for _, e := range entries {
		assert.Equal(t, "dial failed", e.ContextMap()["cause"], "%v", e.ContextMap()["error"])
	}
}
