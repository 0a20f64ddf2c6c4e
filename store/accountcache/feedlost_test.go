package accountcache

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
)

const lostMsg = "account cache: change feed lost; serving from Redis until subscribed again"

// A change feed lost and back within moments, as on a loaded machine, is
// counted every time but logged at debug level only.
func TestABrieflyLostFeedIsCountedNotWarned(t *testing.T) {
	t.Parallel()
	srv := namespace(t)
	proxy := redistest.NewProxy(t, srv.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	core, logs := observer.New(zapcore.DebugLevel)
	var lost atomic.Int64
	c := running(t, rdb, Config{Logger: zap.New(core), FeedLost: func() { lost.Add(1) }, FeedLostWarnAfter: time.Minute})

	const cuts = 5
	for range cuts {
		require.Eventually(t, c.Trusted, liveness, time.Millisecond)
		proxy.CutSubscribers()
		require.Eventually(t, func() bool { return !c.Trusted() }, liveness, 50*time.Microsecond)
	}
	require.Eventually(t, c.Trusted, liveness, time.Millisecond)
	assert.GreaterOrEqual(t, lost.Load(), int64(cuts))
	assert.Equal(t, int(lost.Load()), logs.FilterMessage(lostMsg).FilterLevelExact(zapcore.DebugLevel).Len())
	assert.Zero(t, logs.FilterLevelExact(zapcore.WarnLevel).Len(), "no warning")
	assert.Zero(t, logs.FilterMessage("account cache: change feed back").Len())
}

// A feed lost for longer than FeedLostWarnAfter is warned about once,
// however many attempts fail meanwhile, and its return is logged.
func TestALastingFeedLossIsWarnedOnce(t *testing.T) {
	t.Parallel()
	srv := namespace(t)
	core, logs := observer.New(zapcore.InfoLevel)
	var lost atomic.Int64
	running(t, srv.Client(t), Config{Logger: zap.New(core), FeedLost: func() { lost.Add(1) }, FeedLostWarnAfter: 300 * time.Millisecond})

	srv.Stop()
	require.Eventually(t, func() bool { return logs.FilterMessage(lostMsg).Len() > 0 }, liveness, time.Millisecond)
	require.Eventually(t, func() bool { return lost.Load() >= 4 }, liveness, time.Millisecond, "attempts go on")
	srv.Restart(t) // empty: subscribed again, though not trusted without its namespace
	require.Eventually(t, func() bool { return logs.FilterMessage("account cache: change feed back").Len() > 0 },
		liveness, time.Millisecond)

	warned := logs.FilterMessage(lostMsg).All()
	require.Len(t, warned, 1, "warned once")
	assert.Equal(t, zapcore.WarnLevel, warned[0].Level)
	assert.GreaterOrEqual(t, warned[0].ContextMap()["lost_for"], 300*time.Millisecond)
	back := logs.FilterMessage("account cache: change feed back").All()
	require.Len(t, back, 1)
	assert.Equal(t, zapcore.InfoLevel, back[0].Level)
}
