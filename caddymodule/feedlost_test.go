package caddymodule

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each loss of the account cache's change feed is counted in
// restcomm_gateway_account_cache_feed_lost_total, registered in the
// config's registry. The counter is the process's: other tests' losses
// count there too, so this one looks at what it adds.
func TestFeedLossesAreCounted(t *testing.T) {
	t.Parallel()
	_, two, proxy := twoInstances(t) // revocation_test.go
	before := testutil.ToFloat64(two.g.metrics.feedLost)
	const cuts = 3
	for range cuts {
		require.Eventually(t, two.g.cache.cache.Trusted, 10*time.Second, time.Millisecond)
		proxy.CutSubscribers()
		require.Eventually(t, func() bool { return !two.g.cache.cache.Trusted() }, 10*time.Second, 50*time.Microsecond)
	}
	require.Eventually(t, func() bool { return testutil.ToFloat64(two.g.metrics.feedLost) >= before+cuts }, 10*time.Second, time.Millisecond)

	families, err := two.ctx.GetMetricsRegistry().Gather()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	assert.True(t, names["restcomm_gateway_account_cache_feed_lost_total"])
}
