// Package metrics holds the gateway's collectors that need no Caddy;
// caddymodule makes them once per process and registers them in each
// config's registry.
package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/restcomm/restcomm-gateway/store"
)

// RedisErrorKinds are the kinds of Redis errors (redis_errors_total's
// kind): no answer in time; the connection failed (refused, reset,
// closed, unreachable); Redis answered with an error (READONLY, LOADING,
// MASTERDOWN, …); the caller gave up first (a client that went away);
// anything else.
var RedisErrorKinds = []string{"timeout", "connection", "server", "canceled", "other"}

// Redis times the round trips to Redis of the gateway's clients, and
// counts their failures by kind, through the hook of each client (Hook).
type Redis struct {
	Seconds *prometheus.HistogramVec // by client
	Errors  *prometheus.CounterVec   // by client and kind
}

// NewRedis makes the Redis metrics in namespace, every label value of
// clients there from the start, at zero.
func NewRedis(namespace string, clients ...string) *Redis {
	r := &Redis{
		Seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Subsystem: "redis",
			Name:      "command_duration_seconds",
			Help: "Round trips to Redis, a command or a pipeline, failed ones included, by client: service (requests, " +
				"probes, the account cache) or mirror (the mirror worker, whose stream reads block by design).",
			Buckets: []float64{1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"client"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Subsystem: "redis",
			Name:      "errors_total",
			Help: "Redis round trips that failed, by client (service, mirror) and kind: timeout, connection (refused, " +
				"reset, closed), server (Redis answered an error: READONLY, LOADING, …), canceled (the caller gave up), " +
				"other. A key not found is not an error.",
		}, []string{"client", "kind"}),
	}
	for _, c := range clients {
		r.Seconds.WithLabelValues(c)
		for _, k := range RedisErrorKinds {
			r.Errors.WithLabelValues(c, k)
		}
	}
	return r
}

// Collectors are the collectors to register.
func (r *Redis) Collectors() []prometheus.Collector {
	return []prometheus.Collector{r.Seconds, r.Errors}
}

// Hook is the hook that times and counts the round trips of a Redis
// client labelled client.
func (r *Redis) Hook(client string) redis.Hook { return &redisHook{client: client, m: r} }

// redisHook times every round trip of a Redis client the gateway makes,
// and counts its failures by kind (redis.Hook).
type redisHook struct {
	client string
	m      *Redis
	// dialFailing: the client's latest dial failed (none has succeeded
	// since). go-redis retries a refused connection until the command's
	// deadline, then returns the deadline's error alone: a connection
	// failure, not a slow Redis.
	dialFailing atomic.Bool
}

func (h *redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		switch {
		case err == nil:
			h.dialFailing.Store(false)
		case ctx.Err() == nil: // not a dial cut short by its caller
			h.dialFailing.Store(true)
		}
		return conn, err
	}
}

func (h *redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if connectionSetup(cmd) {
			return next(ctx, cmd)
		}
		start := time.Now()
		err := next(ctx, cmd)
		h.observe(start, err)
		return err
	}
}

func (h *redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return !connectionSetup(c) }) {
			return next(ctx, cmds)
		}
		start := time.Now()
		err := next(ctx, cmds)
		// the first failure among the gateway's own commands
		var failed error
		for _, c := range cmds {
			if e := c.Err(); e != nil && !connectionSetup(c) && redisErrorKind(e) != "" {
				failed = e
				break
			}
		}
		if failed == nil && redisErrorKind(err) != "" && !slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return c.Err() != nil }) {
			failed = err // the round trip failed before any command had an answer
		}
		h.observe(start, failed)
		return err
	}
}

// connectionSetup reports whether cmd is one go-redis sends on a new
// connection, through the hooks too (HELLO, AUTH, SELECT, READONLY,
// CLIENT SETINFO, which a Redis before 7.2 refuses and go-redis ignores):
// not the gateway's work, neither timed nor counted.
func connectionSetup(cmd redis.Cmder) bool {
	switch strings.ToLower(cmd.Name()) {
	case "hello", "auth", "select", "readonly", "client":
		return true
	}
	return false
}

func (h *redisHook) observe(start time.Time, err error) {
	h.m.Seconds.WithLabelValues(h.client).Observe(time.Since(start).Seconds())
	kind := redisErrorKind(err)
	if kind == "timeout" && h.dialFailing.Load() {
		kind = "connection"
	}
	if kind != "" {
		h.m.Errors.WithLabelValues(h.client, kind).Inc()
	}
}

// redisErrorKind is err's kind among RedisErrorKinds; "" when it is no
// error: none, a key not found (redis.Nil), or a script not loaded yet
// (NOSCRIPT, which the store answers by sending the script).
func redisErrorKind(err error) string {
	var (
		re redis.Error
		ne net.Error
		oe *net.OpError
		ue *store.UnreachableError
	)
	switch {
	case err == nil, errors.Is(err, redis.Nil), store.ErrorCode(err) == store.CodeNoScript:
		return ""
	case errors.As(err, &ue):
		return "connection"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout):
		return "connection"
	case errors.As(err, &re):
		return "server"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &oe), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection"
	}
	return "other"
}
