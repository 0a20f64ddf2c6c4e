package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The change feed: every script that changes what an account lookup can
// return publishes, in the same atomic step, what it changed on the
// channel P changes (lua/changes.lua documents the messages), so that a
// gateway caching resolved accounts (package accountcache) hears of every
// change made by any gateway while it listens.

//go:embed lua/changes.lua
var changesSrc string

// ChangeKind is what a message on the change feed says.
type ChangeKind byte

const (
	// ChangedAccounts: the accounts named by Change.IDs changed (SIDs,
	// e-mail addresses, friendly names: whatever a lookup may have used).
	ChangedAccounts ChangeKind = 'a'
	// ChangedAll: anything may have changed.
	ChangedAll ChangeKind = '*'
	// FailedLogin: a failed login from Change.IP was recorded; it counts
	// for Change.Window.
	FailedLogin ChangeKind = 'f'
	// Heartbeat: a gateway's own message (Change.Heartbeat), published by
	// PublishHeartbeat.
	Heartbeat ChangeKind = 'h'
)

// Change is one message of the change feed.
type Change struct {
	Kind      ChangeKind
	IDs       []string      // ChangedAccounts
	IP        string        // FailedLogin
	Window    time.Duration // FailedLogin
	Heartbeat string        // Heartbeat
}

// ChangesChannel is the channel of the change feed.
func (s *Store) ChangesChannel() string { return s.prefix + "changes" }

// Subscribe subscribes to the change feed. The first message received is
// Redis's confirmation (*redis.Subscription); the caller closes the PubSub.
func (s *Store) Subscribe(ctx context.Context) *redis.PubSub {
	return s.rdb.Subscribe(ctx, s.ChangesChannel())
}

// ErrBadChange is a change feed message that is none of the kinds above.
var ErrBadChange = errors.New("store: malformed change message")

// ParseChange reads one message of the change feed.
func ParseChange(payload string) (Change, error) {
	if payload == "" {
		return Change{}, ErrBadChange
	}
	c := Change{Kind: ChangeKind(payload[0])}
	rest := payload[1:]
	switch c.Kind {
	case ChangedAll:
		return c, nil
	case Heartbeat:
		c.Heartbeat = rest
		return c, nil
	case FailedLogin:
		ms, ip, ok := strings.Cut(rest, ":")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil || n < 0 || ip == "" {
			return Change{}, ErrBadChange
		}
		c.IP, c.Window = ip, time.Duration(n)*time.Millisecond
		return c, nil
	case ChangedAccounts:
		for rest != "" {
			size, tail, ok := strings.Cut(rest, ":")
			n, err := strconv.Atoi(size)
			if !ok || err != nil || n < 0 || n > len(tail) {
				return Change{}, ErrBadChange
			}
			c.IDs = append(c.IDs, tail[:n])
			rest = tail[n:]
		}
		return c, nil
	}
	return Change{}, ErrBadChange
}

// heartbeatScript publishes a gateway's heartbeat from the node that owns
// the namespace (so that it reaches subscribers after every change
// published before it), and only while the namespace is marked: a Redis
// that lost its data sends no heartbeats, so no gateway goes on trusting
// what it cached from before.
var heartbeatScript = newScript(`
if redis.call('EXISTS', ARGV[1] .. 'meta') == 0 then return 0 end
return redis.call('PUBLISH', ARGV[1] .. 'changes', 'h' .. A.id)
`)

// PublishHeartbeat publishes the heartbeat id on the change feed; nothing
// when the namespace is not marked.
func (s *Store) PublishHeartbeat(ctx context.Context, id string) error {
	if _, err := s.run(ctx, heartbeatScript, aID, id); err != nil {
		return fmt.Errorf("store: heartbeat: %w", err)
	}
	return nil
}

// failingIPsScript lists the IPs with failed logins still in their
// window, each with the time left, in ms (record_failure.lua keeps them).
var failingIPsScript = newScript(readOnlyFlag + `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local e = redis.call('ZRANGEBYSCORE', ARGV[1] .. 'thr:active', '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(A.limit))
local out = {}
for i = 1, #e, 2 do
  out[#out + 1] = e[i]
  out[#out + 1] = tonumber(e[i + 1]) - now
end
return out
`)

// FailingIPs returns up to limit client IPs with failed logins within
// their window, with how long each still counts, and whether there are
// more than limit.
func (s *Store) FailingIPs(ctx context.Context, limit int) (map[string]time.Duration, bool, error) {
	reply, err := s.run(ctx, failingIPsScript, aLimit, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("store: failing IPs: %w", err)
	}
	items, _ := reply.([]any)
	out := make(map[string]time.Duration, len(items)/2)
	for i := 0; i+1 < len(items); i += 2 {
		ip, _ := items[i].(string)
		ms, _ := items[i+1].(int64)
		out[ip] = time.Duration(ms) * time.Millisecond
	}
	if len(out) > limit {
		return out, true, nil
	}
	return out, false, nil
}
