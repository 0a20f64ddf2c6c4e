package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
)

// reply is an error reply as Redis sends it (go-redis's own type is
// internal to it).
type reply string

func (r reply) Error() string { return string(r) }
func (reply) RedisError()     {}

func TestErrorCode(t *testing.T) {
	for _, c := range []struct {
		name         string
		err          error
		code, detail string
	}{
		{"nil", nil, "", ""},
		{"not from Redis", errors.New("NOSCRIPT but not a reply"), "", ""},
		{"timeout", context.DeadlineExceeded, "", ""},
		{"key not found", redis.Nil, "", ""},
		{"go-redis's NOSCRIPT", redis.ErrNoScript, CodeNoScript, "No matching script. Please use EVAL."},
		{"BUSYGROUP", reply("BUSYGROUP Consumer Group name already exists"), CodeBusyGroup, "Consumer Group name already exists"},
		{"NOGROUP wrapped", fmt.Errorf("store: read outbox: %w", reply("NOGROUP No such key 'p:outbox' or consumer group 'mirror'")),
			CodeNoGroup, "No such key 'p:outbox' or consumer group 'mirror'"},
		{"script reply, Redis 6", reply("NOTFOUND"), CodeNotFound, ""},
		{"script reply, Redis 7", reply("ERR NOTFOUND"), CodeNotFound, ""},
		{"with detail", reply("ERR KEYS 2:utf8mb4_general_ci"), CodeKeys, "2:utf8mb4_general_ci"},
		{"list", reply("UNKNOWN 1-0,2-0"), CodeUnknown, "1-0,2-0"},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", reply("LEASE"))), CodeLease, ""},
		{"Redis's generic error", reply("ERR unknown command 'FOO'"), "unknown", "command 'FOO'"},
	} {
		code, detail := ErrorReply(c.err)
		if code != c.code || detail != c.detail {
			t.Errorf("%s: ErrorReply(%v) = %q, %q; want %q, %q", c.name, c.err, code, detail, c.code, c.detail)
		}
		if got := ErrorCode(c.err); got != c.code {
			t.Errorf("%s: ErrorCode(%v) = %q; want %q", c.name, c.err, got, c.code)
		}
	}
}
