package redislog

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// go-redis's lines are warnings of restcomm.redis without their plain-text
// prefix, sampled per message, and dropped for a quiet context.
func TestAdapter(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	base := zap.New(core)
	caddyLog := defaultLogger
	defaultLogger = func() *zap.Logger { return base }
	t.Cleanup(func() { defaultLogger = caddyLog; current.Store(nil) })

	var a adapter
	a.Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %v", 5, "refused")
	entries := logs.TakeAll()
	require.Len(t, entries, 1)
	assert.Equal(t, "connection pool: failed to dial after 5 attempts: refused", entries[0].Message)
	assert.Equal(t, zapcore.WarnLevel, entries[0].Level)
	assert.Equal(t, Name, entries[0].LoggerName)

	a.Printf(Quiet(context.Background()), "redis: dial refused")
	assert.Zero(t, logs.Len(), "a quiet context's lines are dropped")

	for range 1000 {
		a.Printf(context.Background(), "the same line")
	}
	// (twice that at most, should the calls straddle the sampler's tick)
	n := logs.FilterMessage("the same line").Len()
	assert.GreaterOrEqual(t, n, SampleFirst)
	assert.LessOrEqual(t, n, 2*(SampleFirst+(1000-SampleFirst)/SampleThereafter))
}
