package caddymodule

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/restcomm/restcomm-gateway/internal/accountsapi"
	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
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
func waitReports(t *testing.T, s *accountsapi.LogSampler) {
	t.Helper()
	require.Eventually(t, func() bool { return !s.Pending() }, 10*time.Second, 10*time.Millisecond, "reports written")
}

// The upstream down, 1,000 requests: 502 each, a few "upstream failed"
// lines, and the dropped ones counted.
func TestUpstreamOutageLogIsSampled(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	logs := h.observe(zapcore.InfoLevel) // the service answers and logs the upstream's failures (proxy.go reads them)
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
	waitReports(t, h.g.logs)

	events, reports, dropped := sampledCounts(logs, "upstream failed")
	assert.Equal(t, requests, events+dropped)
	windows := int(elapsed/accountsapi.LogSampleWindow) + 2
	assert.LessOrEqual(t, events+reports, windows*(accountsapi.LogSampleBurst+1), "one cause: %d lines in %s", events+reports, elapsed)
	assert.Equal(t, "502 dial failed", logs.FilterMessage("upstream failed").All()[0].ContextMap()["cause"])
}
