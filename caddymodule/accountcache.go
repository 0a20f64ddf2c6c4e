package caddymodule

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"

	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/accountcache"
)

// AccountCacheConfig bounds the in-process cache of resolved accounts
// (store/accountcache), on by default. The cache is kept coherent by the
// change feed every gateway's writes publish, and is used only while that
// feed is heard: a change made through any gateway is honoured by every
// other one within 80 ms (at once after a broken connection), and by the
// one that made it at once.
type AccountCacheConfig struct {
	// Disabled turns the cache off: every request reads Redis.
	Disabled bool `json:"disabled,omitempty"`
	// MaxEntries and MaxBytes bound it: 10,000 lookups and 32 MiB by
	// default.
	MaxEntries int `json:"max_entries,omitempty"`
	MaxBytes   int `json:"max_bytes,omitempty"`
}

// cachePool shares one cache among the configs over the same Redis
// namespace, so that a reload keeps what is cached and its subscription.
var cachePool = caddy.NewUsagePool()

// cacheHandle is a pooled cache. Its subscription starts with the first
// request that uses it, not at provisioning (Caddy provisions to validate
// a config too), and ends when the last config lets go of it.
type cacheHandle struct {
	cache   *accountcache.Cache
	started atomic.Bool // its subscription was started: trusted or not, it counts (metrics.go)
	once    sync.Once
	cancel  context.CancelFunc
	done    chan struct{}
}

// ResolveCounting is the service's Resolver: the cache, started by the
// first request that needs it.
func (h *cacheHandle) ResolveCounting(ctx context.Context, fl *store.FailedLogins, lookups ...store.Lookup) ([]store.Resolved, *store.FailureCounts, error) {
	h.start()
	return h.cache.ResolveCounting(ctx, fl, lookups...)
}

// Cached answers from memory only (accountsapi.MemoryResolver).
func (h *cacheHandle) Cached(fl *store.FailedLogins, lookups ...store.Lookup) ([]store.Resolved, *store.FailureCounts, bool) {
	return h.cache.Cached(fl, lookups...)
}

// FailedLogin keeps the network's next requests off the cache at once,
// before its failure is counted (accountsapi.MemoryResolver).
func (h *cacheHandle) FailedLogin(network string) { h.cache.FailedLogin(network) }

// Failing reports whether the network is kept off the cache.
func (h *cacheHandle) Failing(network string) bool { return h.cache.Failing(network) }

func (h *cacheHandle) start() {
	h.once.Do(func() {
		h.started.Store(true)
		ctx, cancel := context.WithCancel(context.Background())
		h.cancel, h.done = cancel, make(chan struct{})
		go func() {
			defer close(h.done)
			h.cache.Run(ctx)
		}()
	})
}

func (h *cacheHandle) Destruct() error {
	liveCaches.remove(h) // metrics.go
	h.once.Do(func() {}) // never starts after this
	if h.cancel != nil {
		h.cancel()
		<-h.done
	}
	return nil
}

// provisionAccountCache takes a hold on the cache of st (the store of
// the client whose pool key is redisKey, over prefix), shared by the
// configs over the same client and prefix, and returns it with its key
// in cachePool. It returns nil when the cache is off or reads go to
// replicas (a replica's lag would outlive the change message that should
// have dropped what it returned): the service then reads the store.
func (g *Gateway) provisionAccountCache(st *store.Store, redisKey, prefix string) (*cacheHandle, string, error) {
	cfg := g.AccountCache
	if cfg == nil {
		cfg = &AccountCacheConfig{}
	}
	if cfg.Disabled {
		return nil, "", nil
	}
	if g.Redis.ReadFromReplicas {
		g.logger.Info("account cache off: reads go to replicas (redis_read_replicas)")
		return nil, "", nil
	}
	raw, _ := json.Marshal(cfg)
	key := poolKey(redisKey, prefix, string(raw))
	logger := g.logger.Named("account_cache")
	m := g.metrics // the process's: they outlive the config as the cache does
	v, _, err := cachePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		h := &cacheHandle{}
		h.cache = accountcache.New(st, accountcache.Config{MaxEntries: cfg.MaxEntries, MaxBytes: cfg.MaxBytes, Logger: logger,
			FeedLost: m.feedLost.Inc, Looked: m.looked})
		liveCaches.add(h) // metrics.go
		return h, nil
	})
	if err != nil {
		return nil, "", err
	}
	return v.(*cacheHandle), key, nil
}

func (g *Gateway) cleanupAccountCache() error {
	if g.cacheKey == "" {
		return nil
	}
	_, err := cachePool.Delete(g.cacheKey)
	g.cacheKey = ""
	return err
}

// changedAccounts empties this gateway's cache after one of its own
// account writes (applied, or of unknown outcome), so that the
// next request it serves reads what the write left, without waiting for
// the change feed.
func (g *Gateway) changedAccounts() {
	if g.cache != nil {
		g.cache.cache.Clear()
	}
}
