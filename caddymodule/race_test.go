//go:build race

package caddymodule

import "time"

// The race detector slows compiling a policy several times over; the
// 2-second promise is checked without it.
func init() { reloadDeadline = 10 * time.Second }
