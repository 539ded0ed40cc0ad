#!/usr/bin/env bash
# Build the example images, tinykube/<name>:1 from examples/images/<name>/, with no registry:
# FROM scratch plus Debian's static busybox, classic builder. An image is rebuilt only when the
# content hash of its build context (file names and contents, busybox) differs from its label's.
# Usage: scripts/build-images.sh [NAME...]    (default: every directory under examples/images)
# Env: BUSYBOX=/path/to/static/busybox to use another busybox binary.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
# shellcheck source=scripts/host.sh
. "$HERE/host.sh"

IMAGES_DIR="$ROOT/examples/images"
# The examples name this tag, not :latest, so that imagePullPolicy defaults to IfNotPresent.
TAG=1
HASH_LABEL=tinykube.io/content-hash
EXAMPLE_LABEL=tinykube.io/example-image
WORK="" # build contexts, under one temporary directory removed on exit

is_static() {
	[ -x "$1" ] || return 1
	command -v ldd >/dev/null 2>&1 || return 0
	local out
	out="$(LC_ALL=C ldd "$1" 2>&1 || true)"
	[[ "$out" == *"not a dynamic executable"* || "$out" == *"statically linked"* ]]
}

find_busybox() {
	if [ -n "${BUSYBOX:-}" ]; then
		is_static "$BUSYBOX" || tk_die "BUSYBOX=$BUSYBOX is not a statically linked executable."
		printf '%s\n' "$BUSYBOX"
		return
	fi
	local candidate
	for candidate in /usr/bin/busybox /bin/busybox; do
		if is_static "$candidate"; then
			printf '%s\n' "$candidate"
			return
		fi
	done
	tk_need_packages "the example images need a static busybox" busybox-static
	for candidate in /usr/bin/busybox /bin/busybox; do
		if is_static "$candidate"; then
			printf '%s\n' "$candidate"
			return
		fi
	done
	tk_die "busybox-static is installed but no static /bin/busybox was found."
}

# content_hash DIR BUSYBOX: a short hash of everything that goes into the image.
content_hash() {
	local dir="$1" busybox="$2"
	{
		printf 'image %s:%s\n' "$(basename "$dir")" "$TAG"
		(cd "$dir" && find . -type f -print | LC_ALL=C sort)
		(cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
		sha256sum <"$busybox"
	} | sha256sum | cut -c1-16
}

label_of() {
	docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null ||
		true
}

build_one() {
	local name="$1" busybox="$2" dir="$IMAGES_DIR/$1" ref="tinykube/$1:$TAG"
	[ -f "$dir/Dockerfile" ] || tk_die "no image named $name (no $dir/Dockerfile)"
	local hash old_id same
	hash="$(content_hash "$dir" "$busybox")"
	if [ "$(label_of "$ref")" = "$hash" ]; then
		tk_log "$ref is up to date ($hash)"
		return
	fi
	old_id="$(docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)"
	same="$(docker image ls -q --filter "label=$HASH_LABEL=$hash" | head -n 1)"
	if [ -n "$same" ]; then
		docker tag "$same" "$ref"
		tk_log "$ref tagged from an existing build ($hash)"
		return
	fi
	local ctx="$WORK/$name"
	mkdir -p "$ctx"
	cp -Rp "$dir/." "$ctx/"
	cp "$busybox" "$ctx/busybox"
	# The same image whatever the checkout's umask: modes are not part of the hash.
	chmod -R u=rwX,go=rX "$ctx"
	chmod 755 "$ctx/busybox"
	tk_log "building $ref ($hash)"
	if ! DOCKER_BUILDKIT=0 docker build --force-rm --label "$HASH_LABEL=$hash" \
		--label "$EXAMPLE_LABEL=true" -t "$ref" "$ctx" >"$ctx/build.log" 2>&1; then
		cat "$ctx/build.log" >&2
		tk_die "docker build of $ref failed"
	fi
	# The previous build of this tag is now dangling: drop it unless a container still uses it.
	if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect --format '{{.Id}}' "$ref")" ]; then
		docker image rm "$old_id" >/dev/null 2>&1 || true
	fi
}

main() {
	if ! timeout 20 docker info >/dev/null 2>&1; then
		tk_die "no Docker engine answers; run scripts/ensure-docker.sh (or make images) first."
	fi
	local names=("$@")
	if [ "${#names[@]}" -eq 0 ]; then
		local dir
		for dir in "$IMAGES_DIR"/*/; do
			[ -f "$dir/Dockerfile" ] && names+=("$(basename "$dir")")
		done
	fi
	local busybox
	busybox="$(find_busybox)"
	WORK="$(mktemp -d)"
	trap 'rm -rf "$WORK"' EXIT
	local name
	for name in "${names[@]}"; do
		build_one "$name" "$busybox"
	done
}

main "$@"
