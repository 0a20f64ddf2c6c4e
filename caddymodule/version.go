package caddymodule

import (
	"runtime/debug"
	"sync"
)

// gatewayVersion is this module's version as built ("(devel)" from a
// work tree), recorded in the namespace marker by the gateway's seeding,
// `accounts seed` and `accounts import`.
var gatewayVersion = sync.OnceValue(func() string {
	const path = "github.com/restcomm/restcomm-gateway"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if bi.Main.Path == path {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			return d.Version
		}
	}
	return "unknown"
})
