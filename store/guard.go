package store

import (
	"context"
	_ "embed"
	"time"
)

var (
	//go:embed lua/guard.lua
	guardSrc string
	//go:embed lua/outbox.lua
	outboxSrc string
)

// Guard is the caller a write was decided for, as the policy saw it: the
// write script makes the change only if the caller's status, auth token and
// role are still these, in the same atomic step (ErrStale otherwise). So a
// caller suspended, closed, given a new password or a new role while its
// request was on its way cannot complete a change it would now be refused.
//
// RequestID names the request that asks for the write; the script stores
// it with the changed account or organization ("req"), so that when the
// reply is lost the store can tell whether the write was applied (the
// write is never sent twice) and answer with its result.
type Guard struct {
	Sid, Status, AuthToken, Role string
	RequestID                    string
}

// GuardOf is the guard for a write decided on the account a as read, for
// the request requestID.
func GuardOf(a *Account, requestID string) *Guard {
	return &Guard{Sid: a.Sid, Status: a.Status, AuthToken: a.AuthToken, Role: a.Role, RequestID: requestID}
}

// args are the guard's script arguments, followed by more; a nil guard
// is a write no caller asked for (seeding).
func (g *Guard) args(more ...any) []any {
	if g == nil {
		g = &Guard{}
	}
	return append(pairs(aCaller, g.Sid, aCallerStatus, g.Status, aCallerToken, g.AuthToken,
		aCallerRole, g.Role, aRequest, g.RequestID), more...)
}

// settle learns the outcome of a write whose reply was lost (Uncertain):
// when the hash kind:id carries the write's request id, the write was
// applied and its result is the hash as it is now; otherwise the original
// error stands (the write was not applied, or another write came after it:
// the outcome cannot be known).
func (s *Store) settle(ctx context.Context, g *Guard, kind, id string, reply any, err error) (any, error) {
	if !Uncertain(err) || g == nil || g.RequestID == "" {
		return reply, err
	}
	key := s.key(kind, id)
	req, rerr := s.rdb.HGet(ctx, key, fRequest).Result()
	if rerr != nil || req != g.RequestID {
		return nil, err
	}
	// a WAIT on this connection would not wait for the lost write's: the
	// barrier does (wait.go)
	if werr := s.WaitReplicated(ctx); werr != nil {
		return nil, werr
	}
	return s.rdb.Do(ctx, "HGETALL", key).Result()
}

// writeContext keeps a quarter of ctx's time for settle, should the
// write's reply be lost.
func writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Until(deadline)*3/4)
}
