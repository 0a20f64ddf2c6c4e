package caddymodule

import (
	"fmt"
	"time"

	"github.com/restcomm/restcomm-gateway/internal/accountsapi"
)

// Values of the seed option.
const (
	seedAuto = "auto"
	seedOff  = "off"
)

// provisionDurability sets up what keeps account changes and failures
// accountable: it checks the seed option (the service seeds), makes the
// log sampler, and sets the wait for replicas (redis_wait_replicas). It
// runs in Provision, after the store is made; it does no network I/O.
func (g *Gateway) provisionDurability() error {
	switch g.Seed {
	case "", seedAuto, seedOff:
	default:
		return fmt.Errorf("restcomm: seed: want %s or %s, got %q", seedAuto, seedOff, g.Seed)
	}
	g.logs = accountsapi.NewLogSampler(accountsapi.LogSampleWindow, accountsapi.LogSampleBurst)

	n, wait := g.Redis.WaitReplicas, time.Duration(g.Redis.WaitTimeout)
	if n == 0 {
		return nil
	}
	limit := time.Duration(g.Redis.Timeout)
	if limit <= 0 {
		limit = accountsapi.DefaultRedisTimeout
	}
	if wait == 0 {
		wait = limit / 2
	}
	switch {
	case n < 0:
		return fmt.Errorf("restcomm: redis_wait_replicas: %d replicas", n)
	case wait <= 0 || wait >= limit:
		return fmt.Errorf("restcomm: redis_wait_replicas: the timeout (%s) must be positive and shorter than redis_timeout (%s)", wait, limit)
	}
	g.store = g.store.WithWait(n, wait)
	return nil
}
