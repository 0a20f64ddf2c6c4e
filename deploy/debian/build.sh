#!/usr/bin/env bash
# Builds the Debian package of restcomm-gateway from this checkout: the
# binary (static, stripped, stamped with the gateway's version and commit), then the
# .deb with nfpm (nfpm.yaml), run pinned with `go run` as xcaddy.sh runs
# xcaddy, so that go.mod gains nothing. Prints the package's path.
#
#   deploy/debian/build.sh [OUTPUT_DIR]          # default: ./dist
#   VERSION=0.2.0 deploy/debian/build.sh /tmp/out
#
# Environment (all optional):
#   VERSION      the gateway's version, stamped into the binary and the
#                package; default: internal/version's Version
#   DEB_RELEASE  the package's revision, default 1
#   GOARCH       the architecture, default go's (amd64, arm64, …: Go's and
#                Debian's names agree for these)
#   MAINTAINER   the package's Maintainer, default git's user.name and
#                user.email
set -euo pipefail

out=$(realpath -m -- "${1:-dist}")
cd "$(dirname "$0")/../.."

NFPM_VERSION=v2.48.0 # pinned: every build packages with the same nfpm
module=$(go list -m)

VERSION=${VERSION:-$(sed -n 's/^var Version = "\(.*\)"$/\1/p' internal/version/version.go)}
if [ -z "$VERSION" ]; then
	echo "build.sh: no version: set VERSION, or internal/version/version.go lost its Version line" >&2
	exit 1
fi
# The commit, as Go would record it, given explicitly: the build may not
# record it itself (GOFLAGS=-buildvcs=false, a tree without .git).
commit=
if rev=$(git rev-parse HEAD 2>/dev/null); then
	commit=$rev
	[ -z "$(git status --porcelain 2>/dev/null)" ] || commit+=+modified
fi
MAINTAINER=${MAINTAINER:-$(git config user.name 2>/dev/null || true) <$(git config user.email 2>/dev/null || true)>}
[ "$MAINTAINER" != " <>" ] || MAINTAINER="The restcomm-gateway Authors"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ldflags="-s -w -X ${module}/internal/version.Version=${VERSION}"
[ -z "$commit" ] || ldflags+=" -X ${module}/internal/version.Commit=${commit}"
arch=${GOARCH:-$(go env GOARCH)}
CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$work/restcomm-gateway" ./cmd/restcomm-gateway

mkdir -p "$out"
export RESTCOMM_GATEWAY_BINARY="$work/restcomm-gateway" RESTCOMM_GATEWAY_VERSION="$VERSION" \
	DEB_RELEASE="${DEB_RELEASE:-1}" PACKAGE_ARCH="$arch" MAINTAINER
# nfpm names the file itself (name_version-release_arch.deb): find it by
# building into an empty directory. nfpm itself is built for this machine,
# whatever GOOS and GOARCH say.
mkdir "$work/deb"
env -u GOOS -u GOARCH go run "github.com/goreleaser/nfpm/v2/cmd/nfpm@${NFPM_VERSION}" package \
	--config deploy/debian/nfpm.yaml --packager deb --target "$work/deb/" >&2
deb=$(ls "$work"/deb/*.deb)
mv "$deb" "$out/"
echo "$out/$(basename "$deb")"
