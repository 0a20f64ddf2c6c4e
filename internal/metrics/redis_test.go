package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
)

func TestRedisErrorKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{redis.Nil, ""},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), "timeout"},
		{os.ErrDeadlineExceeded, "timeout"},
		{context.Canceled, "canceled"},
		{redis.ErrClosed, "connection"},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, "connection"},
		{io.EOF, "connection"},
		{errors.New("odd"), "other"},
	} {
		assert.Equal(t, tc.want, redisErrorKind(tc.err), "%v", tc.err)
		if tc.want != "" {
			assert.Contains(t, RedisErrorKinds, tc.want)
		}
	}
}

// Every client's label values exist from the start; the hook counts a
// failed round trip by its kind, and leaves go-redis's connection setup
// alone.
func TestRedisHook(t *testing.T) {
	r := NewRedis("test", "service")
	assert.Equal(t, len(RedisErrorKinds), testutil.CollectAndCount(r.Errors))
	h := r.Hook("service")
	process := h.ProcessHook(func(context.Context, redis.Cmder) error { return context.Canceled })
	_ = process(context.Background(), redis.NewStringCmd(context.Background(), "get", "k"))
	_ = process(context.Background(), redis.NewStringCmd(context.Background(), "hello", "3"))
	assert.Equal(t, 1.0, testutil.ToFloat64(r.Errors.WithLabelValues("service", "canceled")))
	assert.Equal(t, 0.0, testutil.ToFloat64(r.Errors.WithLabelValues("service", "other")))
}
