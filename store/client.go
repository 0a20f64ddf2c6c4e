package store

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/restcomm/restcomm-gateway/internal/redact"
)

// ClientOptions describe how to reach Redis. One shape covers a single
// node, Sentinel and Cluster, like redis.UniversalOptions.
type ClientOptions struct {
	// URLs are redis:// or rediss:// URLs. One URL: a single node (its
	// database, user and password are honoured). Several: Redis Cluster
	// seed nodes, or Sentinels when MasterName is set.
	URLs []string
	// MasterName selects Sentinel: the name of the monitored master.
	MasterName string
	// Username and Password override those in the URLs; SentinelPassword
	// authenticates to the Sentinels.
	Username, Password, SentinelPassword string
	// ReadFromReplicas sends read-only commands (lookups, lists: every read
	// script runs as EVALSHA_RO) to replicas: with Sentinel, to a random
	// replica of the master; with Cluster, to a replica of the slot's
	// master. Writes always go to the master. A single node has no
	// replicas to use: the option changes nothing there. Reads may then be
	// as old as the replication lag (docs/caddyfile.md, redis_read_replicas).
	ReadFromReplicas bool
	// Timeouts; zero values get short defaults fit for a request path.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	PoolSize                               int
}

// NewClient builds a redis.UniversalClient. It does not connect: go-redis
// dials lazily, so a gateway can start before Redis does.
func (o ClientOptions) NewClient() (redis.UniversalClient, error) {
	if len(o.URLs) == 0 {
		return nil, fmt.Errorf("store: no Redis URL")
	}
	first, err := ParseRedisURL(o.URLs[0])
	if err != nil {
		return nil, err
	}
	u := &redis.UniversalOptions{
		Addrs:                 []string{first.Addr},
		DB:                    first.DB,
		Username:              first.Username,
		Password:              first.Password,
		TLSConfig:             first.TLSConfig,
		MasterName:            o.MasterName,
		SentinelPassword:      o.SentinelPassword,
		DialTimeout:           pick(o.DialTimeout, 2*time.Second),
		ReadTimeout:           pick(o.ReadTimeout, time.Second),
		WriteTimeout:          pick(o.WriteTimeout, time.Second),
		PoolSize:              o.PoolSize,
		ContextTimeoutEnabled: true, // a cancelled HTTP request frees its connection
		// Cluster: read-only commands to replicas; Sentinel: RouteRandomly
		// makes go-redis's failover client send them to replicas
		ReadOnly:      o.ReadFromReplicas,
		RouteRandomly: o.ReadFromReplicas,
	}
	for _, raw := range o.URLs[1:] {
		opt, err := ParseRedisURL(raw)
		if err != nil {
			return nil, err
		}
		u.Addrs = append(u.Addrs, opt.Addr)
	}
	if len(u.Addrs) > 1 && o.MasterName == "" {
		u.IsClusterMode = true
		u.DB = 0 // Cluster has database 0 only
	}
	if o.Username != "" {
		u.Username = o.Username
	}
	if o.Password != "" {
		u.Password = o.Password
	}
	rdb := redis.NewUniversalClient(u)
	rdb.AddHook(&dialCause{}) // dialcause.go
	return rdb, nil
}

// ParseRedisURL is redis.ParseURL with errors that never hold the URL's
// password (go-redis's and url.Parse's quote the URL or pieces of it), and
// that refuses a password whose unencoded '/', '?' or '#' would make the
// URL read as another host.
func ParseRedisURL(raw string) (*redis.Options, error) {
	if _, err := redact.Parse(raw); err != nil {
		return nil, fmt.Errorf("store: Redis URL: %w", err)
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("store: Redis URL: %w", redact.Error(raw, err))
	}
	return opt, nil
}

func pick(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
