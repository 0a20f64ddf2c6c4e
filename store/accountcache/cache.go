// Package accountcache keeps resolved accounts in process memory, so that
// most requests need no Redis round trip, without ever serving an account
// as it was before a change another gateway made.
//
// Coherence comes from the store's change feed (store/changes.go): every
// script that changes what a lookup can return publishes what it changed,
// atomically with the change. A cache uses its entries only while it
// listens to the feed:
//
//   - it subscribes, then empties itself, then trusts what it caches;
//   - each gateway publishes its own heartbeat every HeartbeatEvery through
//     the node that owns the namespace; Redis delivers a subscriber's
//     messages in order, so once a heartbeat sent at time s is heard, every
//     change made before s has been heard too. Entries are used only while
//     the latest heartbeat heard was sent less than TrustFor ago: a feed cut
//     silently (a partition) stops the cache within TrustFor, one cut by an
//     error (a closed connection, a failover) at once;
//   - heartbeats are published only while the namespace's marker exists,
//     so a Redis that lost its data is never covered by the cache.
//
// Entries are checked lazily: a change bumps the epoch of each identifier
// it names, and an entry is good only while no identifier it depends on
// (the lookup's identifier, the SID it found) changed after the entry's
// Redis read began. A read that races a change is therefore never cached
// as current. Emptying the cache is O(1): a generation number.
//
// Failed-login counts (the throttle) are not cached: an entry is used for
// a request only when no failed login from its client network is known
// within its window (counts are then zero); any other request reads Redis.
// A network is known to be failing from the change feed (every gateway's
// counted failures), from P thr:active when the cache subscribes, and at
// once from this gateway's own failures, which it marks (FailedLogin)
// before counting them: a request answered from memory checks the mark
// again once its credentials verified (Failing), which serializes it with
// this gateway's failures (accountsapi's authenticate).
package accountcache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/store"
)

// Config bounds a cache. Zero values take the defaults below.
type Config struct {
	MaxEntries int // resolved lookups kept (default 10,000)
	MaxBytes   int // their estimated size (default 32 MiB)
	// NegativeFor is how long a lookup that found nothing is kept (at most
	// 100 ms): a login tried again and again costs Redis once per period.
	// The change feed drops it at once when the account is created; this
	// only bounds it should that be missed.
	NegativeFor time.Duration
	// HeartbeatEvery is how often this gateway publishes its heartbeat, and
	// TrustFor how old the latest one heard may be for entries to be used:
	// the longest a change made elsewhere can go unseen.
	HeartbeatEvery time.Duration
	TrustFor       time.Duration
	Logger         *zap.Logger
	// FeedLost, if set, is called each time the change feed is lost (a
	// metric counts them). A loss that heals within FeedLostWarnAfter is
	// logged at debug level only: on a loaded machine the subscription
	// can miss its silence deadline every few seconds and be back in tens
	// of milliseconds, the cache off meanwhile (requests read Redis).
	FeedLost func()
	// FeedLostWarnAfter is how long the feed must stay lost before a
	// warning says so (default 1s); its return is then logged too.
	FeedLostWarnAfter time.Duration
	// Looked, if set, is called as Stats counts: hit for lookups
	// answered from memory, not for those that read Redis (a metric
	// counts them).
	Looked func(hit bool)
}

// Defaults.
const (
	DefaultMaxEntries     = 10_000
	DefaultMaxBytes       = 32 << 20
	DefaultNegativeFor    = 100 * time.Millisecond
	DefaultHeartbeatEvery = 20 * time.Millisecond
	DefaultTrustFor       = 80 * time.Millisecond
	// DefaultFeedLostWarnAfter: Config.FeedLostWarnAfter.
	DefaultFeedLostWarnAfter = time.Second

	maxNegativeFor = 100 * time.Millisecond
	// maxFailingIPs bounds the client networks with failed logins tracked;
	// with more, no request uses the cache until their window has passed.
	maxFailingIPs = 65_536
	// ownFailureFor is how long this gateway's own failed login keeps its
	// network off the cache before the feed's message (with the real
	// window) comes.
	ownFailureFor = time.Second
	// silentFeed: with no message for this long the subscription is taken
	// for broken and made again.
	silentFeed    = time.Second
	entryOverhead = 256
)

func (c *Config) defaults() {
	if c.MaxEntries <= 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.NegativeFor <= 0 || c.NegativeFor > maxNegativeFor {
		c.NegativeFor = DefaultNegativeFor
	}
	if c.HeartbeatEvery <= 0 {
		c.HeartbeatEvery = DefaultHeartbeatEvery
	}
	if c.TrustFor <= c.HeartbeatEvery {
		c.TrustFor = max(DefaultTrustFor, 4*c.HeartbeatEvery)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.FeedLostWarnAfter <= 0 {
		c.FeedLostWarnAfter = DefaultFeedLostWarnAfter
	}
}

// Resolver is what the cache stands in front of.
type Resolver interface {
	ResolveCounting(ctx context.Context, fl *store.FailedLogins, lookups ...store.Lookup) ([]store.Resolved, *store.FailureCounts, error)
}

// Cache is safe for concurrent use. Start it with Run.
type Cache struct {
	st    *store.Store
	cfg   Config
	id    string    // this cache's heartbeat id
	start time.Time // the monotonic clock's origin

	heard     atomic.Int64 // when the latest heartbeat heard was sent (ns since start; 0: none)
	listening atomic.Bool

	// the current outage of the change feed, if any: Run's alone
	lostSince  time.Time
	lostWarned bool

	hits, misses atomic.Uint64

	mu         sync.RWMutex
	gen        uint64 // bumped when the cache empties
	epoch      uint64 // bumped by every change heard
	changed    map[string]uint64
	entries    map[store.Lookup]*entry
	bytes      int
	failing    map[string]int64 // client network -> until (ns since start)
	failingAll int64            // no network is known clean until then
}

type entry struct {
	res     store.Resolved
	ids     [2]string // lower-cased identifiers it depends on
	gen     uint64
	epoch   uint64 // the epoch when its read began
	expires int64  // ns since start; 0: never (negative entries expire)
	size    int
}

// New returns a cache over st; it serves nothing from memory until Run
// has subscribed.
func New(st *store.Store, cfg Config) *Cache {
	cfg.defaults()
	var b [8]byte
	_, _ = rand.Read(b[:])
	c := &Cache{st: st, cfg: cfg, id: hex.EncodeToString(b[:]), start: time.Now(),
		failing: make(map[string]int64)}
	c.reset()
	st.Client().AddHook(feedWatch{c})
	return c
}

// lost stops the cache at once: its subscription's connection failed (or
// is being made again), so changes may go unheard from now on.
func (c *Cache) lost() {
	c.listening.Store(false)
	c.heard.Store(0)
}

// feedWatch is a go-redis hook that learns of a broken subscription at the
// very read that fails, rather than after go-redis has reconnected (which
// it does, with a dial and a round trip, before it reports the error). It
// only touches the connections dialed for this cache's subscription, which
// are dialed with the context listen marks.
type feedWatch struct{ c *Cache }

type feedKey struct{}

func (w feedWatch) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if ctx.Value(feedKey{}) != w.c {
			return next(ctx, network, addr)
		}
		w.c.lost()
		conn, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return feedConn{Conn: conn, c: w.c}, nil
	}
}

func (feedWatch) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (feedWatch) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// feedConn is the subscription's connection.
type feedConn struct {
	net.Conn
	c *Cache
}

func (f feedConn) Read(b []byte) (int, error) {
	n, err := f.Conn.Read(b)
	if err != nil {
		f.c.lost()
	}
	return n, err
}

func (c *Cache) now() int64 { return int64(time.Since(c.start)) }

// reset empties the cache; c.mu must be held (or c not yet shared).
func (c *Cache) reset() {
	c.gen++
	c.changed = make(map[string]uint64)
	c.entries = make(map[store.Lookup]*entry)
	c.bytes = 0
}

// Clear empties the cache. The gateway calls it after each of its own
// writes (applied or uncertain), so that the instance that made a change
// honours it at once, before the feed's message comes back.
func (c *Cache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
}

// FailedLogin notes a failed login from the client network ip (store
// ClientNetwork) that this gateway is about to count, so that its next
// requests read their counts from Redis at once. Call it before counting:
// a request answered from memory meanwhile then sees it (Failing).
func (c *Cache) FailedLogin(ip string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.markFailing(ip, int64(ownFailureFor))
}

// Failing reports whether the client network ip has failed logins known
// within their window: its requests are not answered from memory.
func (c *Cache) Failing(ip string) bool {
	now := c.now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.failingAll > now || c.failing[ip] > now
}

// Trusted reports whether entries may be used now.
func (c *Cache) Trusted() bool { return c.trusted(c.now()) }

func (c *Cache) trusted(now int64) bool {
	h := c.heard.Load()
	return c.listening.Load() && h > 0 && now-h <= int64(c.cfg.TrustFor)
}

// Stats are counts since the cache was made.
type Stats struct {
	Hits, Misses uint64
	Entries      int
	Bytes        int
}

// Stats returns the cache's counts.
func (c *Cache) Stats() Stats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: len(c.entries), Bytes: c.bytes}
}

// ResolveCounting is store.ResolveCounting, from memory when every lookup
// is cached and the request's client network has no failed login in its
// window.
// The accounts returned are the caller's own copies; Ancestors is shared
// and must not be changed.
func (c *Cache) ResolveCounting(ctx context.Context, fl *store.FailedLogins, lookups ...store.Lookup) ([]store.Resolved, *store.FailureCounts, error) {
	if res, counts, ok := c.Cached(fl, lookups...); ok {
		return res, counts, nil
	}
	c.misses.Add(1)
	if c.cfg.Looked != nil {
		c.cfg.Looked(false)
	}
	c.mu.RLock()
	gen, epoch := c.gen, c.epoch
	c.mu.RUnlock()
	res, counts, err := c.st.ResolveCounting(ctx, fl, lookups...)
	if err == nil && c.listening.Load() {
		c.fill(gen, epoch, lookups, res)
	}
	return res, counts, err
}

// Cached is ResolveCounting from memory only: ok is false when Redis must
// be read. A caller can try it before setting up its Redis deadline.
func (c *Cache) Cached(fl *store.FailedLogins, lookups ...store.Lookup) (res []store.Resolved, counts *store.FailureCounts, ok bool) {
	now := c.now()
	if !c.trusted(now) {
		return nil, nil, false
	}
	res, counts, ok = c.lookup(now, fl, lookups)
	if ok {
		c.hits.Add(1)
		if c.cfg.Looked != nil {
			c.cfg.Looked(true)
		}
	}
	return res, counts, ok
}

func (c *Cache) lookup(now int64, fl *store.FailedLogins, lookups []store.Lookup) ([]store.Resolved, *store.FailureCounts, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var counts *store.FailureCounts
	if fl != nil {
		if c.failingAll > now || c.failing[fl.IP] > now {
			return nil, nil, false
		}
		counts = &store.FailureCounts{}
	}
	res := make([]store.Resolved, len(lookups))
	for i, l := range lookups {
		e := c.entries[l]
		if e == nil || !c.good(e, now) {
			return nil, nil, false
		}
		res[i] = e.res
		if a := e.res.Account; a != nil {
			own := *a
			res[i].Account = &own
		}
	}
	return res, counts, true
}

// good reports whether e is current; c.mu must be held.
func (c *Cache) good(e *entry, now int64) bool {
	if e.gen != c.gen || e.expires != 0 && now >= e.expires {
		return false
	}
	for _, id := range e.ids {
		if id != "" && c.changed[id] > e.epoch {
			return false
		}
	}
	return true
}

// fill caches what a read begun at (gen, epoch) found.
func (c *Cache) fill(gen, epoch uint64, lookups []store.Lookup, res []store.Resolved) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return // emptied meanwhile: what was read may predate a change
	}
	for i, l := range lookups {
		e := &entry{res: res[i], gen: gen, epoch: epoch}
		e.ids[0] = c.idKey(l.ID)
		e.size = entryOverhead + 2*len(l.ID)
		if a := res[i].Account; a != nil {
			own := *a // the caller keeps res
			e.res.Account = &own
			e.ids[1] = c.idKey(a.Sid)
			e.size += accountSize(a) + 40*len(res[i].Ancestors)
		} else {
			e.expires = now + int64(c.cfg.NegativeFor)
		}
		if old := c.entries[l]; old != nil {
			c.bytes -= old.size
			delete(c.entries, l)
		}
		for len(c.entries) >= c.cfg.MaxEntries || c.bytes+e.size > c.cfg.MaxBytes && len(c.entries) > 0 {
			c.evictOne()
		}
		c.entries[l] = e
		c.bytes += e.size
	}
}

// idKey is what a change to an identifier invalidates: its key under the
// namespace's comparison rule (an entry found by "ADMIN@ACME.COM " goes
// stale when admin@acme.com changes), lower-cased so that a SID and an
// e-mail address or name that only differ in case meet too (dropping more
// than needed is harmless). A change of rule empties the cache ('*').
func (c *Cache) idKey(id string) string { return strings.ToLower(c.st.Collation().Key(id)) }

// evictOne drops an arbitrary entry (Go's map order is randomised).
func (c *Cache) evictOne() {
	for k, e := range c.entries {
		delete(c.entries, k)
		c.bytes -= e.size
		return
	}
}

func accountSize(a *store.Account) int {
	return len(a.Sid) + len(a.OrganizationSid) + len(a.FriendlyName) + len(a.EmailAddress) + len(a.Type) +
		len(a.Status) + len(a.Role) + len(a.AuthToken) + len(a.URI) + len(a.ParentSid) + len(a.Pending) + 160
}

// apply takes one message of the change feed.
func (c *Cache) apply(payload string) {
	ch, err := store.ParseChange(payload)
	if err != nil {
		// an unknown message could be a change: assume the worst
		c.cfg.Logger.Warn("unreadable change message; emptying the account cache", zap.Int("length", len(payload)))
		c.Clear()
		return
	}
	switch ch.Kind {
	case store.Heartbeat:
		c.heartbeat(ch.Heartbeat)
	case store.ChangedAll:
		c.Clear()
	case store.ChangedAccounts:
		c.mu.Lock()
		c.epoch++
		for _, id := range ch.IDs {
			c.changed[c.idKey(id)] = c.epoch
		}
		if len(c.changed) > 4*c.cfg.MaxEntries {
			c.reset() // bounds what is remembered of changes
		}
		c.mu.Unlock()
	case store.FailedLogin:
		c.mu.Lock()
		c.markFailing(ch.IP, int64(ch.Window))
		c.mu.Unlock()
	}
}

// markFailing keeps the network ip's requests off the cache for d; c.mu
// must be held.
func (c *Cache) markFailing(ip string, d int64) {
	now := c.now()
	until := now + d
	if c.failing[ip] >= until {
		return
	}
	if len(c.failing) >= maxFailingIPs {
		for k, t := range c.failing {
			if t <= now {
				delete(c.failing, k)
			}
		}
	}
	if len(c.failing) >= maxFailingIPs {
		c.failingAll = max(c.failingAll, until)
		return
	}
	c.failing[ip] = until
}

// heartbeat takes a heartbeat message: this cache's own ("<id>:<sent>")
// moves the time up to which every change has been heard.
func (c *Cache) heartbeat(body string) {
	id, sent, ok := strings.Cut(body, ":")
	if !ok || id != c.id {
		return // another gateway's
	}
	ns, err := strconv.ParseInt(sent, 10, 64)
	if err != nil {
		return
	}
	prev := c.heard.Load()
	if prev != 0 && ns-prev > int64(c.cfg.TrustFor) {
		// heartbeats went missing: whatever was cached meanwhile was not
		// covered, so start afresh
		c.Clear()
	}
	if ns > prev {
		c.heard.Store(ns)
	}
}

// Run listens to the change feed and publishes heartbeats until ctx ends,
// subscribing again whenever the subscription breaks.
func (c *Cache) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.beat(ctx)
	}()
	defer wg.Wait()
	const firstPause = 20 * time.Millisecond
	pause := firstPause
	for ctx.Err() == nil {
		subscribed, err := c.listen(ctx)
		if subscribed {
			pause = firstPause // a new failure, not the same one again
		}
		c.listening.Store(false)
		c.heard.Store(0)
		c.Clear()
		if ctx.Err() != nil {
			return
		}
		c.feedLost(subscribed, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}

var errFeedSilent = errors.New("no message on the change feed")

// feedLost counts and logs a loss of the change feed: subscribed, it was
// heard until now and an outage begins; otherwise the outage goes on. It
// is logged at debug level until it has lasted FeedLostWarnAfter, then
// once as a warning. Run's goroutine alone calls it, and feedBack.
func (c *Cache) feedLost(subscribed bool, err error) {
	if c.cfg.FeedLost != nil {
		c.cfg.FeedLost()
	}
	now := time.Now()
	if subscribed || c.lostSince.IsZero() {
		c.lostSince, c.lostWarned = now, false
	}
	lost := now.Sub(c.lostSince)
	if !c.lostWarned && lost >= c.cfg.FeedLostWarnAfter {
		c.lostWarned = true
		c.cfg.Logger.Warn("account cache: change feed lost; serving from Redis until subscribed again",
			zap.Duration("lost_for", lost), zap.Error(err))
		return
	}
	c.cfg.Logger.Debug("account cache: change feed lost; serving from Redis until subscribed again",
		zap.Duration("lost_for", lost), zap.Error(err))
}

// feedBack ends an outage of the change feed: subscribed again, every
// change is heard. One that was warned about is said to be over.
func (c *Cache) feedBack() {
	if c.lostSince.IsZero() {
		return
	}
	if c.lostWarned {
		c.cfg.Logger.Info("account cache: change feed back", zap.Duration("lost_for", time.Since(c.lostSince)))
	}
	c.lostSince, c.lostWarned = time.Time{}, false
}

// listen subscribes and applies messages until the subscription fails;
// subscribed reports whether it got as far as listening.
func (c *Cache) listen(ctx context.Context) (subscribed bool, err error) {
	ctx = context.WithValue(ctx, feedKey{}, c) // feedWatch
	ps := c.st.Subscribe(ctx)
	defer ps.Close()
	// a blocked read does not watch ctx: closing the subscription ends it
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	msg, err := ps.ReceiveTimeout(ctx, silentFeed)
	if err != nil {
		return false, err
	}
	if _, ok := msg.(*redis.Subscription); !ok {
		return false, errors.New("unexpected first message on the change feed")
	}
	// From here on every change is heard; what was cached before is not
	// covered, and the IPs with failed logins are read after subscribing
	// so that none falls between the two.
	c.Clear()
	rctx, cancel := context.WithTimeout(ctx, silentFeed)
	ips, more, err := c.st.FailingIPs(rctx, maxFailingIPs)
	cancel()
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	c.failing = make(map[string]int64, len(ips))
	c.failingAll = 0
	for ip, left := range ips {
		c.markFailing(ip, int64(left))
	}
	if more {
		c.failingAll = c.now() + int64(maxLeft(ips))
	}
	c.mu.Unlock()
	c.listening.Store(true)
	c.feedBack()
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, silentFeed)
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				return true, errFeedSilent
			}
			return true, err
		}
		switch m := msg.(type) {
		case *redis.Message:
			c.apply(m.Payload)
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				return true, errors.New("unsubscribed from the change feed")
			}
		}
	}
	return true, ctx.Err()
}

func maxLeft(ips map[string]time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ips {
		m = max(m, d)
	}
	return m
}

// beat publishes this cache's heartbeat every HeartbeatEvery while it
// listens.
func (c *Cache) beat(ctx context.Context) {
	t := time.NewTicker(c.cfg.HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !c.listening.Load() {
			continue
		}
		sent := c.now()
		hctx, cancel := context.WithTimeout(ctx, c.cfg.TrustFor)
		err := c.st.PublishHeartbeat(hctx, c.id+":"+strconv.FormatInt(sent, 10))
		cancel()
		if err != nil && ctx.Err() == nil {
			c.cfg.Logger.Debug("account cache: heartbeat not published", zap.Error(err))
		}
	}
}
