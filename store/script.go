package store

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// script is one of the store's Lua scripts and how it may be run.
//
// A read-only script declares itself (`#!lua flags=no-writes`) and runs as
// EVALSHA_RO: Redis lets it run during a write pause (CLIENT PAUSE WRITE,
// as FAILOVER and managed services use) and on replicas. go-redis may
// retry it on a network error, within the request's deadline.
//
// A write script is never sent twice: were a reply lost, a re-sent script
// would run again (a create answering 409 for the account it created, a
// close answering "Account is closed"). It runs as a command go-redis does
// not retry, and a caller that does not learn its outcome asks whether it
// was applied (see Applied).
type script struct {
	src      string
	sha      string
	readOnly bool
	waits    bool // an account or organization change: waits for replicas (wait.go)
}

// readOnlyFlag is the shebang every read-only script starts with.
const readOnlyFlag = "#!lua flags=no-writes\n"

// newScript prepends the prelude (fields.go) to src, after its shebang.
func newScript(src string) *script {
	readOnly := strings.HasPrefix(src, readOnlyFlag)
	if readOnly {
		src = readOnlyFlag + scriptPrelude + strings.TrimPrefix(src, readOnlyFlag)
	} else {
		src = scriptPrelude + changesSrc + src
	}
	sum := sha1.Sum([]byte(src))
	return &script{src: src, sha: hex.EncodeToString(sum[:]), readOnly: readOnly}
}

// writeScript is a write script that first checks its guard (guard.lua)
// and appends its change to the outbox (outbox.lua) in a mirrored
// namespace.
func writeScript(src string) *script {
	sc := newScript(guardSrc + outboxSrc + src)
	sc.waits = true
	return sc
}

// run executes sc with the namespace anchor as KEYS[1] (so that Cluster
// routes it to the slot's owner) and the prefix as ARGV[1].
func (s *Store) run(ctx context.Context, sc *script, args ...any) (any, error) {
	name := "evalsha"
	if sc.readOnly {
		name = "evalsha_ro"
	}
	argv := make([]any, 0, 5+len(args))
	argv = append(argv, name, sc.sha, 1, s.anchor, s.prefix)
	argv = append(argv, args...)
	reply, err := s.process(ctx, sc, argv)
	if err != nil && ErrorCode(err) == CodeNoScript {
		// not loaded yet (or the script cache was flushed): a certain
		// "not run", so sending the source is the first run
		argv[0], argv[1] = strings.Replace(name, "sha", "", 1), sc.src
		reply, err = s.process(ctx, sc, argv)
	}
	return reply, err
}

func (s *Store) process(ctx context.Context, sc *script, argv []any) (any, error) {
	cmd := redis.NewCmd(ctx, argv...)
	switch {
	case sc.readOnly:
		_ = s.rdb.Process(ctx, cmd)
	case sc.waits:
		if err := s.processAndWait(ctx, noRetry{cmd}); errors.Is(err, ErrNotReplicated) {
			return cmd.Val(), err
		}
	default:
		_ = s.rdb.Process(ctx, noRetry{cmd})
	}
	return cmd.Result()
}

// noRetry is a command go-redis never re-sends after it may have reached
// Redis.
type noRetry struct{ *redis.Cmd }

func (noRetry) NoRetry() bool { return true }

// Uncertain reports whether err leaves a write's outcome unknown: no reply
// from Redis (a timeout, a dropped connection, a cancelled request) rather
// than Redis's own answer. The write may or may not have been applied.
func Uncertain(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var reply redis.Error
	return !errors.As(err, &reply)
}
