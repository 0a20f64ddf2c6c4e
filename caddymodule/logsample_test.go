package caddymodule

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/restcomm/restcomm-gateway/internal/fixture"
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
func waitReports(s *logSampler) {
	for {
		s.mu.Lock()
		armed := false
		for _, w := range s.causes {
			armed = armed || w.armed
		}
		s.mu.Unlock()
		if !armed {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLogSamplerBoundsLinesAndCountsTheRest(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	l := zap.New(core)
	s := newLogSampler(100*time.Millisecond, 3)
	start := time.Now()
	for i := range 2000 {
		cause := "a"
		if i%2 == 1 {
			cause = "b"
		}
		s.error(l, cause, "boom", zap.Int("i", i))
		if i%100 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	elapsed := time.Since(start)
	waitReports(s)
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
	core, logs := observer.New(zapcore.ErrorLevel)
	l := zap.New(core)
	s := newLogSampler(time.Second, 1)
	for range 10 {
		s.warn(l, "x", "quiet")
	}
	waitReports(s)
	assert.Zero(t, logs.Len())
	var none *logSampler
	for range 10 {
		none.error(l, "x", "loud")
	}
	assert.Equal(t, 10, logs.FilterMessage("loud").Len())
}

// Redis stopped, 1,000 requests: every one is answered 503, the log holds a
// few lines a second, and what was dropped adds up to the requests.
func TestRedisOutageLogIsSampled(t *testing.T) {
	h := newHarness(t, true, func(g *Gateway) { g.Redis.Timeout = caddy.Duration(100 * time.Millisecond) })
	core, logs := observer.New(zapcore.InfoLevel)
	h.g.logger = zap.New(core)
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
				_ = h.g.ServeHTTP(rec, r, nil)
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
	waitReports(h.g.logs)

	events, reports, dropped := sampledCounts(logs, "account store unavailable")
	assert.Equal(t, requests, events+dropped, "every failure is logged or counted")
	causes := map[string]bool{}
	for _, e := range logs.FilterMessage("account store unavailable").All() {
		causes[e.ContextMap()["cause"].(string)] = true
	}
	windows := int(elapsed/logSampleWindow) + 2
	bound := len(causes) * windows * (logSampleBurst + 1)
	assert.LessOrEqual(t, events+reports, bound, "%d lines in %s for %d causes %v", events+reports, elapsed, len(causes), causes)
	assert.Positive(t, reports)
	t.Logf("%d requests in %s: %d lines (%d events, %d reports of %d dropped), causes %v",
		requests, elapsed.Round(time.Millisecond), events+reports, events, reports, dropped, causes)
}

// The upstream down, 1,000 requests: 502 each, a few "upstream failed"
// lines, and the dropped ones counted.
func TestUpstreamOutageLogIsSampled(t *testing.T) {
	h := newHarness(t, true)
	core, logs := observer.New(zapcore.InfoLevel)
	h.g.logger = zap.New(core)
	// what reverse_proxy returns for an upstream that refuses connections
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := l.Addr().String()
	require.NoError(t, l.Close())
	next := handlerFunc(func(http.ResponseWriter, *http.Request) error {
		_, err := net.Dial("tcp", dead)
		return caddyhttp.Error(http.StatusBadGateway, err)
	})

	const requests = 1000
	start := time.Now()
	for range requests {
		r := httptest.NewRequest(http.MethodGet, "https://gw.example.com"+fixture.APIRoot+"/Accounts/"+fixture.SidAdmin+"/Calls.json", nil)
		r.Header.Set("Authorization", fixture.Basic(fixture.Users["ADMIN"], fixture.Token))
		rec := httptest.NewRecorder()
		require.NoError(t, h.g.ServeHTTP(rec, r, next))
		require.Equal(t, http.StatusBadGateway, rec.Code)
	}
	elapsed := time.Since(start)
	waitReports(h.g.logs)

	events, reports, dropped := sampledCounts(logs, "upstream failed")
	assert.Equal(t, requests, events+dropped)
	windows := int(elapsed/logSampleWindow) + 2
	assert.LessOrEqual(t, events+reports, windows*(logSampleBurst+1), "one cause: %d lines in %s", events+reports, elapsed)
	assert.Equal(t, "502 dial failed", logs.FilterMessage("upstream failed").All()[0].ContextMap()["cause"])
}

func TestErrorCause(t *testing.T) {
	_, dialErr := net.Dial("tcp", "127.0.0.1:1")
	for want, err := range map[string]error{
		"store lost its data":   errStoreLost,
		"store not initialized": errStoreEmpty,
		"not replicated":        &store.NotReplicatedError{Want: 1},
		"stale":                 store.ErrStale,
		"dial failed":           dialErr,
		"other":                 errors.New("x"),
	} {
		assert.Equal(t, want, errorCause(err), "%v", err)
	}
}
