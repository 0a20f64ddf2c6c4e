package caddymodule

import (
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Values of the seed option.
const (
	seedAuto = "auto"
	seedOff  = "off"
)

// provisionDurability sets up what keeps account changes and failures
// accountable: the seeder (seed auto|off), the log sampler, and the wait
// for replicas (redis_wait_replicas). It runs in Provision, after the
// store is made; it does no network I/O.
func (g *Gateway) provisionDurability(repl *caddy.Replacer) error {
	switch g.Seed {
	case "", seedAuto, seedOff:
	default:
		return fmt.Errorf("restcomm: seed: want %s or %s, got %q", seedAuto, seedOff, g.Seed)
	}
	g.seed = &seeder{domain: repl.ReplaceAll(g.OrganizationDomain, ""), auto: g.Seed != seedOff}
	g.logs = newLogSampler(logSampleWindow, logSampleBurst)

	n, wait := g.Redis.WaitReplicas, time.Duration(g.Redis.WaitTimeout)
	if n == 0 {
		return nil
	}
	limit := time.Duration(g.Redis.Timeout)
	if limit <= 0 {
		limit = time.Second // redis_timeout's default
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

// storeFailure is what the log and the client are told when the account
// store fails: the log message (sampled per cause) and the 503's body.
func storeFailure(err error) (msg, body string) {
	switch {
	case errors.Is(err, errStoreLost):
		return "account store lost its data: restore Redis from a backup, or start over with `restcomm-gateway accounts seed`",
			"Account store lost its data"
	case errors.Is(err, errStoreEmpty):
		return "account store is not initialized and seeding is off: run `restcomm-gateway accounts seed`",
			"Account store is not initialized"
	}
	return "account store unavailable", "Account store unavailable"
}
