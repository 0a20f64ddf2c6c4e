package store

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/guard.lua
var guardSrc string

// guardedScript is a write script that first checks its guard (guard.lua).
func guardedScript(src string) *redis.Script { return redis.NewScript(guardSrc + src) }

// Guard is the caller a write was decided for, as the policy saw it: the
// write script makes the change only if the caller's status, auth token and
// role are still these, in the same atomic step (ErrStale otherwise). So a
// caller suspended, closed, given a new password or a new role while its
// request was on its way cannot complete a change it would now be refused.
type Guard struct {
	Sid, Status, AuthToken, Role string
}

// GuardOf is the guard for a write decided on the account a as read.
func GuardOf(a *Account) *Guard {
	return &Guard{Sid: a.Sid, Status: a.Status, AuthToken: a.AuthToken, Role: a.Role}
}

// args are the guard's script arguments (ARGV[2..5]); a nil guard is a
// write no caller asked for (seeding).
func (g *Guard) args() []any {
	if g == nil {
		return []any{"", "", "", ""}
	}
	return []any{g.Sid, g.Status, g.AuthToken, g.Role}
}
