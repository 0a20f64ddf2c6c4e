package caddymodule

import "github.com/restcomm/restcomm-gateway/internal/version"

// gatewayVersion is the gateway's version (internal/version), recorded in
// the namespace marker by the gateway's seeding, `accounts seed` and
// `accounts import`.
func gatewayVersion() string { return version.Get().Version }
