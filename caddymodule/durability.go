package caddymodule

import (
	"fmt"
	"time"
)

// Values of the seed option.
const (
	seedAuto = "auto"
	seedOff  = "off"
)

// checkSeed refuses a seed option other than auto or off (checkSettings):
// the service seeds.
func checkSeed(seed string) error {
	switch seed {
	case "", seedAuto, seedOff:
		return nil
	}
	return fmt.Errorf("restcomm: seed: want %s or %s, got %q", seedAuto, seedOff, seed)
}

// replicaWait is redis_wait_replicas as the store waits: how many
// replicas must acknowledge each account change (0: none), and for how
// long, half of redis_timeout by default and shorter than it.
func (r RedisConfig) replicaWait() (int, time.Duration, error) {
	n, wait := r.WaitReplicas, time.Duration(r.WaitTimeout)
	if n == 0 {
		return 0, 0, nil
	}
	limit := r.timeout()
	if wait == 0 {
		wait = limit / 2
	}
	switch {
	case n < 0:
		return 0, 0, fmt.Errorf("restcomm: redis_wait_replicas: %d replicas", n)
	case wait <= 0 || wait >= limit:
		return 0, 0, fmt.Errorf("restcomm: redis_wait_replicas: the timeout (%s) must be positive and shorter than redis_timeout (%s)", wait, limit)
	}
	return n, wait, nil
}
