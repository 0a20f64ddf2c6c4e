#!/usr/bin/env bash
# Builds restcomm-gateway with xcaddy instead of `go build ./cmd/restcomm-gateway`:
# Caddy at the version go.mod pins, its standard modules, and this module
# from this checkout. Extra arguments are passed to `xcaddy build` (for
# example more --with plugins).
#
#   ./xcaddy.sh                      # writes ./restcomm-gateway
#   OUTPUT=/usr/local/bin/caddy ./xcaddy.sh --with github.com/caddy-dns/cloudflare
set -euo pipefail
cd "$(dirname "$0")"

XCADDY_VERSION=v0.4.5 # pinned: the build is reproducible
CADDY_VERSION=$(go list -m -f '{{.Version}}' github.com/caddyserver/caddy/v2)
MODULE=$(go list -m)
OUTPUT=${OUTPUT:-./restcomm-gateway}

# xcaddy asks the module proxy about the longest import path first
# (…/caddymodule); a proxy that refuses unknown paths with 403 instead of 404
# would stop the search there. Falling back (|) to an empty file proxy turns
# that refusal into "not found", so Go goes on to the replaced module root.
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT
proxies=$(go env GOPROXY | tr ',|' '\n\n' | grep -vx -e direct -e off | paste -sd'|')
export GOPROXY="${proxies:+${proxies}|}file://${empty}"

go run "github.com/caddyserver/xcaddy/cmd/xcaddy@${XCADDY_VERSION}" build "$CADDY_VERSION" \
	--with "${MODULE}/caddymodule" \
	--replace "${MODULE}=." \
	--output "$OUTPUT" "$@"
