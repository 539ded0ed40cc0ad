#!/usr/bin/env bash
# Build a Debian base image without any container registry: debootstrap a minimal rootfs from the
# Debian mirror, trim it, and `docker import` it. Two flavours:
#   base (default)  python3 + python3-venv: the image tinykube's Dockerfile builds FROM
#   node            base + docker.io, iptables, iproute2: a "node container" running its own
#                   Docker engine (the compose demo's Mode B)
# An image is rebuilt only when its recipe (this script's inputs) changes; the recipe hash is the
# image's label tinykube.io/base-recipe, so an up-to-date image is found by label in a second.
# Usage: scripts/build-base-image.sh [--flavour base|node] [--tag REF] [--suite bookworm]
# Env: TINYKUBE_DEBIAN_MIRROR (default http://deb.debian.org/debian). Needs root and debootstrap
# (installed with apt-get when missing, on Debian/Ubuntu).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/host.sh
. "$HERE/host.sh"

FLAVOUR=base
SUITE=bookworm
TAG=""
MIRROR="${TINYKUBE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
RECIPE_LABEL=tinykube.io/base-recipe
# Version of the steps below: bump it when they change so that old images are rebuilt.
RECIPE_VERSION=1

usage() {
	sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--flavour) FLAVOUR="$2"; shift 2 ;;
	--tag) TAG="$2"; shift 2 ;;
	--suite) SUITE="$2"; shift 2 ;;
	-h | --help) usage 0 ;;
	*) tk_log "unknown argument: $1"; usage 2 >&2 ;;
	esac
done

case "$FLAVOUR" in
base) PACKAGES="python3,python3-venv,ca-certificates" ;;
node) PACKAGES="python3,python3-venv,ca-certificates,docker.io,iptables,iproute2,procps,tini" ;;
*) tk_die "unknown flavour $FLAVOUR (base or node)" ;;
esac
TAG="${TAG:-tinykube/$FLAVOUR:$SUITE}"
RECIPE="$(printf '%s\n' "$RECIPE_VERSION" "$SUITE" "$PACKAGES" "$MIRROR" | sha256sum | cut -c1-16)"

label_of() {
	docker image inspect --format "{{ index .Config.Labels \"$RECIPE_LABEL\" }}" "$1" 2>/dev/null ||
		true
}

if [ "$(label_of "$TAG")" = "$RECIPE" ]; then
	tk_log "$TAG is up to date ($RECIPE)"
	exit 0
fi
same="$(docker image ls -q --filter "label=$RECIPE_LABEL=$RECIPE" | head -n 1)"
if [ -n "$same" ]; then
	docker tag "$same" "$TAG"
	tk_log "$TAG tagged from an existing build ($RECIPE)"
	exit 0
fi

tk_is_root || tk_die "debootstrap needs root: run sudo $0 $*"
command -v debootstrap >/dev/null 2>&1 ||
	tk_need_packages "building a base image without a registry needs debootstrap" debootstrap

WORK="$(mktemp -d)"
ROOTFS="$WORK/rootfs"
cleanup() {
	# debootstrap may leave /proc mounted in the rootfs when it fails half-way.
	if mountpoint -q "$ROOTFS/proc" 2>/dev/null; then umount -l "$ROOTFS/proc" || true; fi
	if mountpoint -q "$ROOTFS/sys" 2>/dev/null; then umount -l "$ROOTFS/sys" || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

tk_log "debootstrap $SUITE ($PACKAGES) from $MIRROR: about a minute"
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
	>"$WORK/debootstrap.log" 2>&1; then
	tail -n 20 "$WORK/debootstrap.log" >&2
	tk_die "debootstrap failed (is $MIRROR reachable?)"
fi

# Services never start inside an image build; a node container starts its engine itself.
printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
	"$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
	"$ROOTFS"/usr/share/locale/*
# A minimal sources.list so that apt-get works in containers of this image.
printf 'deb %s %s main\n' "$MIRROR" "$SUITE" >"$ROOTFS/etc/apt/sources.list"

tk_log "docker import $TAG"
tar -C "$ROOTFS" -c . | docker import \
	-c 'ENV LANG=C.UTF-8' \
	-c "LABEL $RECIPE_LABEL=$RECIPE" \
	-c "LABEL tinykube.io/base-flavour=$FLAVOUR" \
	-c 'CMD ["python3"]' - "$TAG" >/dev/null
tk_log "$TAG built ($RECIPE)"
