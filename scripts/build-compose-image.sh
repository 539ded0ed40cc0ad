#!/usr/bin/env bash
# Build the images docker-compose.yml runs, with no registry: the base images (debootstrap +
# docker import, scripts/build-base-image.sh), a wheelhouse picked by their own python3
# (scripts/build-wheelhouse.sh), then the Dockerfile.
#   tinykube/tinykube:dev        control plane, agent, Redis (Mode A)
#   tinykube/tinykube-node:dev   the same on a base with docker.io: a node container (Mode B)
# Usage: scripts/build-compose-image.sh [--node]    (--node builds the node image too)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
# shellcheck source=scripts/host.sh
. "$HERE/host.sh"

WHEELHOUSE=.tmp/wheelhouse-bookworm
NODE=""
case "${1:-}" in
--node) NODE=1 ;;
"") ;;
*) tk_die "usage: $0 [--node]" ;;
esac

build() {
	local base="$1" tag="$2"
	tk_log "building $tag (FROM $base)"
	if ! DOCKER_BUILDKIT=0 docker build --force-rm -q --build-arg "BASE=$base" \
		--build-arg "WHEELHOUSE=$WHEELHOUSE" -t "$tag" "$ROOT" >"$ROOT/.tmp/build-$$.log" 2>&1; then
		cat "$ROOT/.tmp/build-$$.log" >&2
		rm -f "$ROOT/.tmp/build-$$.log"
		tk_die "docker build of $tag failed"
	fi
	rm -f "$ROOT/.tmp/build-$$.log"
}

mkdir -p "$ROOT/.tmp"
"$HERE/build-base-image.sh" --flavour base
"$HERE/build-wheelhouse.sh" tinykube/base:bookworm "$ROOT/$WHEELHOUSE"
build tinykube/base:bookworm tinykube/tinykube:dev
if [ -n "$NODE" ]; then
	"$HERE/build-base-image.sh" --flavour node
	# Same Debian, same python3: the base image's wheelhouse fits.
	build tinykube/node:bookworm tinykube/tinykube-node:dev
fi
# The previous builds of these tags are now dangling, and so is every build stage (an untagged
# image that carries only the base image's labels): remove both, or each rebuild leaves
# hundreds of MB behind.
docker image prune -f --filter label=org.opencontainers.image.title=tinykube >/dev/null 2>&1 || true
docker image prune -f --filter label=tinykube.io/base-flavour >/dev/null 2>&1 || true
