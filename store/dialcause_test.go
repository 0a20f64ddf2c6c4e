package store

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A command that runs out of time while Redis refuses connections fails
// with the context's error and the refusal, not with a bare timeout.
func TestARefusedConnectionIsTheCauseOfATimeout(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	rdb, err := ClientOptions{URLs: []string{"redis://" + addr + "/0"}}.NewClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })

	for range 3 { // the first command dials, later ones may find the pool failing already
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err = rdb.Get(ctx, "x").Err()
		cancel()
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "still a deadline passed")
		var ue *UnreachableError
		require.ErrorAs(t, err, &ue, "%v", err)
		var oe *net.OpError
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, "dial", oe.Op)
		assert.Contains(t, err.Error(), "connection refused")

		ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err = rdb.Pipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, "x"); return nil })
		cancel()
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.True(t, errors.As(err, &ue), "a pipeline's too: %v", err)
	}
}
