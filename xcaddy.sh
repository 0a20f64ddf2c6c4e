#!/usr/bin/env bash
# Builds restcomm-gateway with xcaddy instead of `go build ./cmd/restcomm-gateway`:
# Caddy at the version go.mod pins, its standard modules, and this module
# from this checkout, stamped with the gateway's version and commit. Extra
# arguments are passed to `xcaddy build` (for example more --with plugins).
#
#   ./xcaddy.sh                      # writes ./restcomm-gateway
#   OUTPUT=/usr/local/bin/caddy ./xcaddy.sh --with github.com/caddy-dns/cloudflare
#   VERSION=0.2.0 ./xcaddy.sh        # a release's version
#
# Such a build has xcaddy's main, not cmd/restcomm-gateway's: it lacks the
# `up` and `bench` commands that main adds (docs/install.md).
#
# The version and commit go in with XCADDY_GO_BUILD_FLAGS, which replaces
# xcaddy's own go build flags, so they are repeated here. An
# XCADDY_GO_BUILD_FLAGS of your own is added after them: a -ldflags of
# yours replaces this one, stamp included.
set -euo pipefail
cd "$(dirname "$0")"

XCADDY_VERSION=v0.4.5 # pinned: the build is reproducible
CADDY_VERSION=$(go list -m -f '{{.Version}}' github.com/caddyserver/caddy/v2)
MODULE=$(go list -m)
OUTPUT=${OUTPUT:-./restcomm-gateway}

# xcaddy's main module is not this repository, so Go records no commit:
# give it, as Go would have recorded it. VERSION, when set, stands for
# internal/version's.
ldflags="-w -s"
[ -z "${VERSION:-}" ] || ldflags+=" -X ${MODULE}/internal/version.Version=${VERSION}"
if commit=$(git rev-parse HEAD 2>/dev/null); then
	[ -z "$(git status --porcelain 2>/dev/null)" ] || commit+=+modified
	ldflags+=" -X ${MODULE}/internal/version.Commit=${commit}"
fi
export XCADDY_GO_BUILD_FLAGS="-ldflags '${ldflags}' -trimpath -tags nobadger,nomysql,nopgx ${XCADDY_GO_BUILD_FLAGS:-}"

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
