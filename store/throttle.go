package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	_ "embed"

	"github.com/redis/go-redis/v9"
)

// The failed-login throttle's counters. Each is a sliding-window log in
// Redis (a sorted set of failure times), shared by every gateway instance,
// keeping at most its limit of entries: enough for any decision about
// whether the limit was reached.
//
// Keys (lua/throttle.lua derives them, so that Go never does):
//
//	P thr:login:<id>:<net>  the failures of one login from one client network
//	P thr:ip:<net>          the failures of any login from one client network
//	P thr:active            zset: the networks with failures in their window
//
// <id> is the SHA-1 of the SID of the account the login names (an e-mail
// login and a SID login of one account share one count), or of the
// login's key under the namespace's comparison rule when it names none.
// <net> is ClientNetwork's: an IPv4 address, or an IPv6 network.

var (
	//go:embed lua/throttle.lua
	throttleSrc string
	//go:embed lua/record_failure.lua
	recordFailureSrc    string
	recordFailureScript = newScript(keysSrc + throttleSrc + recordFailureSrc)
)

// DefaultIPv6PrefixLength is the length of the IPv6 networks counted as one
// client: an IPv6 host usually holds a whole /64, so counting per address
// would give it 2^64 fresh counters.
const DefaultIPv6PrefixLength = 64

// ClientNetwork is the client a failed login is counted against: an IPv4
// address as it is (an IPv4-mapped IPv6 address too), an IPv6 address's
// network of ipv6PrefixLength bits (DefaultIPv6PrefixLength when out of
// 1-128), "2001:db8:1:2::/64". What is not an IP address is kept as given.
// It is what the counters' keys, the change feed's failed-login messages
// and the account cache's failing networks name.
func ClientNetwork(ip string, ipv6PrefixLength int) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.WithZone("").Unmap()
	if addr.Is4() {
		return addr.String()
	}
	if ipv6PrefixLength < 1 || ipv6PrefixLength > 128 {
		ipv6PrefixLength = DefaultIPv6PrefixLength
	}
	p, _ := addr.Prefix(ipv6PrefixLength)
	return p.String()
}

// FailedLogins names the failed-login counters of one request: those of
// its login from its client network, and of its client network.
type FailedLogins struct {
	Login        string // as the client sent it
	IP           string // the client network (ClientNetwork)
	Window       time.Duration
	LoginIPLimit int
	IPLimit      int
}

// NewFailedLogins returns the counters of login from the client network
// ip (ClientNetwork).
func NewFailedLogins(login, ip string, window time.Duration, loginIPLimit, ipLimit int) *FailedLogins {
	return &FailedLogins{Login: login, IP: ip, Window: window, LoginIPLimit: loginIPLimit, IPLimit: ipLimit}
}

// appendArgs appends the counters to resolve.lua's arguments.
func (f *FailedLogins) appendArgs(args []any, k *keys) []any {
	return append(args, f.Login, k.rule.Key(f.Login), k.rule.SID(f.Login), f.IP,
		f.Window.Milliseconds(), f.LoginIPLimit, f.IPLimit)
}

// FailureCounts are the failed logins within the window.
type FailureCounts struct {
	LoginIP, IP int
	// RetryAfter is how long until every count at its limit is below it.
	RetryAfter time.Duration
}

func failureCountsFrom(v []any) (*FailureCounts, error) {
	if len(v) != 3 {
		return nil, fmt.Errorf("store: unexpected failure counts %v", v)
	}
	li, _ := v[0].(int64)
	ip, _ := v[1].(int64)
	wait, _ := v[2].(int64)
	return &FailureCounts{LoginIP: int(li), IP: int(ip), RetryAfter: time.Duration(wait) * time.Millisecond}, nil
}

// CountFailedLogin counts one failed login in both of f's counters unless
// either is at its limit, in one atomic step: however many attempts run at
// once, on however many gateways, at most the limit are counted. counted
// says which; counts are what the counters held before (below the limits
// when counted; when not, with RetryAfter). An error leaves the failure
// uncounted, or its outcome unknown (a timeout): the caller must not
// answer as for a counted one.
func (s *Store) CountFailedLogin(ctx context.Context, f *FailedLogins) (counted bool, counts *FailureCounts, err error) {
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return false, nil, err
	}
	count := func() (any, error) {
		k := s.keys.load()
		return s.run(ctx, recordFailureScript, aKeys, k.version, aLoginKey, k.rule.Key(f.Login), aLoginSid, k.rule.SID(f.Login),
			aIP, f.IP, aWindow, f.Window.Milliseconds(), aLoginLimit, f.LoginIPLimit, aIPLimit, f.IPLimit,
			aMember, hex.EncodeToString(id[:]))
	}
	reply, err := count()
	if s.keysChanged(ctx, err) { // refused before writing anything
		reply, err = count()
	}
	if err != nil {
		return false, nil, fmt.Errorf("store: count failed login: %w", err)
	}
	v, ok := reply.([]any)
	if !ok || len(v) != 4 {
		return false, nil, fmt.Errorf("store: unexpected failed login reply %T", reply)
	}
	counts, err = failureCountsFrom(v[1:])
	if err != nil {
		return false, nil, err
	}
	n, _ := v[0].(int64)
	return n == 1, counts, nil
}

// Unblocking: an operator lifts a block by removing counters, found with
// SCAN on the node that owns the namespace's hash slot (every key shares
// its tag), so that the work is a pass over that node's keys, in batches,
// never a KEYS or a reply the size of the keyspace.

// RemovedCounter is a counter Unblock removed: its key and how many
// failures it held.
type RemovedCounter struct {
	Key      string
	Failures int
}

// ErrNotUnblockable: what was given is neither a login nor a client.
var ErrNotUnblockable = errors.New("store: give a login (e-mail address or SID) or a client IP address or IPv6 network")

// loginIDsScript names a login's counters as record_failure.lua does: the
// account's (when the login names one) and the login's own (made while it
// named none), read-only.
var loginIDsScript = newScript(readOnlyFlag + keysSrc + throttleSrc + `
local p = ARGV[1]
local keys_ok, keys_have = keys_hold(p, A.keys, false)
if not keys_ok then return redis.error_reply('KEYS ' .. keys_have) end
local ids = {redis.sha1hex('l:' .. A.login_key)}
local h = login_account(p, A.login_key, A.login_sid)
if #h > 0 then table.insert(ids, 1, login_id(h, A.login_key)) end
return ids
`)

// removeCountersScript removes counters (A.rows, keys without the prefix,
// as <length>:<bytes>) and forgets the networks A.fields among those with
// failures in their window; it answers each counter's count.
var removeCountersScript = newScript(keysSrc + `
local p = ARGV[1]
local out = {}
for _, k in ipairs(split(A.rows)) do
  local n = 0
  if redis.call('TYPE', p .. k).ok == 'zset' then n = redis.call('ZCARD', p .. k) end
  redis.call('DEL', p .. k)
  out[#out + 1] = n
end
for _, net in ipairs(split(A.fields)) do redis.call('ZREM', p .. 'thr:active', net) end
return out
`)

// unblockBatch bounds the keys SCAN looks at per call and the counters
// removed per script call.
const unblockBatch = 1000

// UnblockLogin removes the counters of login (an e-mail address or a SID,
// looked up as a login is) from every client network: the account's when
// it names one, and the login's own. A client network's own count of
// failures is not the login's and stays. removed is told of each counter,
// as it goes.
func (s *Store) UnblockLogin(ctx context.Context, login string, removed func(RemovedCounter)) error {
	if login == "" {
		return ErrNotUnblockable
	}
	lookup := func() (any, error) {
		k := s.keys.load()
		return s.run(ctx, loginIDsScript, aKeys, k.version, aLoginKey, k.rule.Key(login), aLoginSid, k.rule.SID(login))
	}
	reply, err := lookup()
	if s.keysChanged(ctx, err) {
		reply, err = lookup()
	}
	if err != nil {
		return fmt.Errorf("store: unblock %q: %w", login, err)
	}
	ids, _ := reply.([]any)
	for _, v := range ids {
		id, _ := v.(string)
		if id == "" {
			continue
		}
		err := s.removeCounters(ctx, globEscape(s.prefix+"thr:login:"+id+":")+"*", func(string) (bool, string) {
			return true, ""
		}, removed)
		if err != nil {
			return fmt.Errorf("store: unblock %q: %w", login, err)
		}
	}
	return nil
}

// UnblockClient removes the counters of every client network that
// overlaps client: its network's count, and every login's count from it.
// An IPv6 address matches the network it was counted in, whatever prefix
// length counted it.
func (s *Store) UnblockClient(ctx context.Context, client netip.Prefix, removed func(RemovedCounter)) error {
	if !client.IsValid() {
		return ErrNotUnblockable
	}
	client = client.Masked()
	match := globEscape(s.prefix+"thr:") + "*"
	if client.Addr().Is4() && client.IsSingleIP() {
		match = globEscape(s.prefix+"thr:") + "*" + globEscape(":"+client.Addr().String())
	}
	err := s.removeCounters(ctx, match, func(key string) (bool, string) {
		net, ok := counterNetwork(key)
		if !ok {
			return false, ""
		}
		n, err := parseNetwork(net)
		return err == nil && n.Overlaps(client), net
	}, removed)
	if err != nil {
		return fmt.Errorf("store: unblock %s: %w", client, err)
	}
	return nil
}

// counterNetwork is the client network of a counter's key (without the
// prefix); ok is false for what is not a counter.
func counterNetwork(key string) (string, bool) {
	if net, ok := strings.CutPrefix(key, "thr:ip:"); ok {
		return net, net != ""
	}
	rest, ok := strings.CutPrefix(key, "thr:login:")
	if !ok || len(rest) < 42 || rest[40] != ':' {
		return "", false
	}
	return rest[41:], true
}

// parseNetwork reads a counter's network: an address, or a prefix.
func parseNetwork(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// removeCounters scans the namespace's node for keys matching match,
// removes those keep accepts (with the network it names, forgotten among
// the failing ones when not ""), and tells removed of each.
func (s *Store) removeCounters(ctx context.Context, match string, keep func(key string) (bool, string), removed func(RemovedCounter)) error {
	node, err := s.slotNode(ctx)
	if err != nil {
		return err
	}
	var cursor uint64
	for {
		keys, next, err := node.Scan(ctx, cursor, match, unblockBatch).Result()
		if err != nil {
			return err
		}
		var rows, nets strings.Builder
		var names []string
		for _, full := range keys {
			key := strings.TrimPrefix(full, s.prefix)
			ok, net := keep(key)
			if !ok {
				continue
			}
			appendRow(&rows, key)
			if net != "" {
				appendRow(&nets, net)
			}
			names = append(names, full)
		}
		if len(names) > 0 {
			reply, err := s.run(ctx, removeCountersScript, aRows, rows.String(), aFields, nets.String())
			if err != nil {
				return err
			}
			counts, _ := reply.([]any)
			for i, full := range names {
				var n int64
				if i < len(counts) {
					n, _ = counts[i].(int64)
				}
				if removed != nil {
					removed(RemovedCounter{Key: full, Failures: int(n)})
				}
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// slotNode is the client of the node that owns the namespace's hash slot:
// SCAN only sees the keys of the node it is sent to.
func (s *Store) slotNode(ctx context.Context) (redis.Cmdable, error) {
	if c, ok := s.rdb.(*redis.ClusterClient); ok {
		return c.MasterForKey(ctx, s.anchor)
	}
	return s.rdb, nil
}

// globEscape escapes SCAN MATCH's special characters.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
