package store

import (
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Codes of Redis's error replies: the first word of the reply. Redis
// sends the first three; the gateway's scripts (lua/) the others, through
// redis.error_reply.
const (
	CodeNoScript  = "NOSCRIPT"  // EVALSHA of a script not in the cache
	CodeBusyGroup = "BUSYGROUP" // XGROUP CREATE of a group that exists
	CodeNoGroup   = "NOGROUP"   // XREADGROUP on a stream or group that does not exist

	CodeNotFound    = "NOTFOUND"    // ErrNotFound
	CodeDuplicate   = "DUPLICATE"   // ErrDuplicate
	CodeClosed      = "CLOSED"      // ErrClosed
	CodeNoOrg       = "NOORG"       // ErrNoOrganization
	CodeNoParent    = "NOPARENT"    // ErrNoParent
	CodeSameOrg     = "SAMEORG"     // ErrSameOrg
	CodeStale       = "STALE"       // ErrStale
	CodeKeys        = "KEYS"        // 'KEYS <layout>': the namespace is keyed otherwise
	CodeLease       = "LEASE"       // ErrLeaseLost
	CodeNotMirrored = "NOTMIRRORED" // ErrNotMirrored
	CodeUnknown     = "UNKNOWN"     // 'UNKNOWN <id>,...': *UnknownDeadLettersError
)

// ErrorCode is the code of Redis's error reply that err holds, however the
// caller wrapped it (one of the Code constants, or another Redis code);
// "" when err holds no error reply from Redis (nil, redis.Nil, a lost
// connection, a timeout).
func ErrorCode(err error) string {
	code, _ := ErrorReply(err)
	return code
}

// ErrorReply splits Redis's error reply that err holds into its code and
// the rest of its message ("KEYS 2:exact": "KEYS", "2:exact"); "", "" when
// err holds no reply from Redis. The "ERR " that Redis 7 puts before a
// script's error reply (Redis 6 does not) is not the code.
func ErrorReply(err error) (code, detail string) {
	var reply redis.Error
	if err == nil || errors.Is(err, redis.Nil) || !errors.As(err, &reply) {
		return "", ""
	}
	msg := strings.TrimPrefix(reply.Error(), "ERR ")
	code, detail, _ = strings.Cut(msg, " ")
	return code, detail
}
