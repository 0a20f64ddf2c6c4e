package caddymodule

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
)

// The handler's pooled Redis client is timed and its failures counted
// (client "service"): a request's round trips, then a refused connection
// once Redis is gone, counted as a connection error, not a timeout.
func TestServiceRedisClientIsTimed(t *testing.T) {
	h := newHarness(t, true)
	m := gatewayMetrics()
	trips := func() uint64 {
		var out dto.Metric
		require.NoError(t, m.redis.Seconds.WithLabelValues(redisClientService).(prometheus.Histogram).Write(&out))
		return out.GetHistogram().GetSampleCount()
	}
	refused := m.redis.Errors.WithLabelValues(redisClientService, "connection")
	before, refusedBefore := trips(), testutil.ToFloat64(refused)
	require.Equal(t, http.StatusOK, h.do(get("/Accounts.json/"+fixture.SidAdmin, "ADMIN")).Code)
	assert.Greater(t, trips(), before)

	h.redis.Stop()
	require.Equal(t, http.StatusServiceUnavailable, h.do(get("/Accounts.json/"+fixture.SidDev, "ADMIN")).Code)
	assert.Greater(t, testutil.ToFloat64(refused), refusedBefore)
}
