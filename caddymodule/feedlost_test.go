package caddymodule

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each loss of the account cache's change feed is counted in the config's
// restcomm_gateway_account_cache_feed_lost_total.
func TestFeedLossesAreCounted(t *testing.T) {
	t.Parallel()
	_, two, proxy := twoInstances(t) // revocation_test.go
	assert.Zero(t, testutil.ToFloat64(two.g.metrics.feedLost))
	const cuts = 3
	for range cuts {
		require.Eventually(t, two.g.cache.cache.Trusted, 10*time.Second, time.Millisecond)
		proxy.CutSubscribers()
		require.Eventually(t, func() bool { return !two.g.cache.cache.Trusted() }, 10*time.Second, 50*time.Microsecond)
	}
	require.Eventually(t, func() bool { return testutil.ToFloat64(two.g.metrics.feedLost) >= cuts }, 10*time.Second, time.Millisecond)

	families, err := two.ctx.GetMetricsRegistry().Gather()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	assert.True(t, names["restcomm_gateway_account_cache_feed_lost_total"])
}
