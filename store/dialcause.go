package store

import (
	"context"
	"errors"
	"net"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// UnreachableError is the error of a command whose deadline passed while
// go-redis was retrying a connection Redis refused: go-redis then returns
// the context's error alone, and a refused connection would be reported,
// and logged, as a timeout. It is both: errors.Is(err,
// context.DeadlineExceeded) holds, and errors.As finds the dial's error
// (a *net.OpError) among its causes.
type UnreachableError struct {
	Err  error // the context's error
	Dial error // the latest dial's, which failed
}

func (e *UnreachableError) Error() string {
	return e.Err.Error() + " (Redis unreachable: " + e.Dial.Error() + ")"
}

func (e *UnreachableError) Unwrap() []error { return []error{e.Err, e.Dial} }

// dialCause is a hook of every client NewClient makes: it keeps the error
// of the client's latest dial while its dials fail (none once one
// succeeds), and gives it to a command that ran out of time meanwhile.
// Dials made after the command's deadline passed are not its cause.
type dialCause struct {
	last atomic.Pointer[error]
}

func (h *dialCause) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		switch {
		case err == nil:
			h.last.Store(nil)
		case ctx.Err() == nil:
			h.last.Store(&err)
		}
		return conn, err
	}
}

func (h *dialCause) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return h.explain(next(ctx, cmd))
	}
}

func (h *dialCause) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		return h.explain(next(ctx, cmds))
	}
}

func (h *dialCause) explain(err error) error {
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if last := h.last.Load(); last != nil {
		return &UnreachableError{Err: err, Dial: *last}
	}
	return err
}
