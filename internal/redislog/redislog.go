// Package redislog routes go-redis's own log lines (a failed dial, a pool
// that cannot reach Redis, a recovered panic) into Caddy's logger, as
// structured warnings of the logger "restcomm.redis", instead of the
// plain-text lines go-redis writes to standard error by default, which
// break a JSON log stream.
package redislog

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Name is the logger go-redis's lines are written to.
const Name = "restcomm.redis"

// A line repeated within SampleWindow (a dial refused on every request
// while Redis is down) is written SampleFirst times, then one in
// SampleThereafter.
const (
	SampleWindow     = time.Second
	SampleFirst      = 5
	SampleThereafter = 100
)

var install sync.Once

// Install makes go-redis log through Caddy's default logger, for the
// whole process: go-redis's logger is a global, so it is set once, here,
// and never replaced (redis.SetLogger elsewhere would take it back).
// Each line goes to the default logger in force when it is written, so
// that a config reload's logging applies to it too.
func Install() {
	install.Do(func() { redis.SetLogger(adapter{}) })
}

type quietKey struct{}

// Quiet marks ctx so that what go-redis logs about the commands run with
// it is dropped: a probe that expects a refusal (is a Redis already
// there?) and reports it itself.
func Quiet(ctx context.Context) context.Context {
	return context.WithValue(ctx, quietKey{}, true)
}

type adapter struct{}

func (adapter) Printf(ctx context.Context, format string, v ...any) {
	if ctx != nil && ctx.Value(quietKey{}) != nil {
		return
	}
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	msg = strings.TrimPrefix(msg, "redis: ")
	logger().Warn(msg)
}

// sampled is the logger of the default logger base: one per base, so
// that its sampling counts carry from one line to the next.
type sampled struct {
	base *zap.Logger
	l    *zap.Logger
}

var current atomic.Pointer[sampled]

// defaultLogger is Caddy's default logger (a test's stand-in).
var defaultLogger = caddy.Log

func logger() *zap.Logger {
	base := defaultLogger()
	if s := current.Load(); s != nil && s.base == base {
		return s.l
	}
	s := &sampled{base: base, l: base.Named(Name).WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, SampleWindow, SampleFirst, SampleThereafter)
	}))}
	current.Store(s)
	return s.l
}
