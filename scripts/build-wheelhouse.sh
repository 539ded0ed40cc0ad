#!/usr/bin/env bash
# Build a wheelhouse of tinykube's dependencies (plus setuptools, to build tinykube itself offline)
# with the Python of the image they are for: pip evaluates environment markers against the
# interpreter that runs it, so wheels chosen by the host's Python can miss a dependency the image
# needs (redis wants async-timeout below Python 3.11.3; bookworm has 3.11.2).
# The image's python3 runs in a throwaway container on the host's network, with the host's pip
# settings and CA certificates. If that container cannot reach the package index, the host's pip
# builds the wheelhouse instead, adding the marker-only dependencies explicitly.
# Usage: scripts/build-wheelhouse.sh IMAGE OUT_DIR
# Reuses OUT_DIR when it was built for the same image and pyproject.toml (OUT_DIR/.recipe).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
# shellcheck source=scripts/host.sh
. "$HERE/host.sh"

[ $# -eq 2 ] || tk_die "usage: $0 IMAGE OUT_DIR"
IMAGE="$1"
OUT="$2"
# Dependencies that only some interpreters need, for the host fallback (see above).
MARKER_ONLY=(async-timeout)

image_id="$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null)" ||
	tk_die "no image $IMAGE (build it with scripts/build-base-image.sh)"
recipe="$(printf '%s\n' "$image_id" "$(sha256sum <"$ROOT/pyproject.toml")" | sha256sum | cut -c1-16)"
if [ -f "$OUT/.recipe" ] && [ "$(cat "$OUT/.recipe")" = "$recipe" ]; then
	tk_log "wheelhouse $OUT is up to date ($recipe)"
	exit 0
fi
rm -rf "$OUT"
mkdir -p "$OUT"

# The sources pip needs to resolve tinykube's dependencies, as a tar stream.
sources() {
	tar -C "$ROOT" -c --exclude=__pycache__ pyproject.toml README.md common control agent
}

in_image() {
	local env_args=() mounts=() name
	for name in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_CERT PIP_DEFAULT_TIMEOUT \
		REQUESTS_CA_BUNDLE SSL_CERT_FILE HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy \
		no_proxy; do
		if [ -n "${!name:-}" ]; then env_args+=(-e "$name=${!name}"); fi
	done
	# The host's CA bundle, for hosts behind a TLS-inspecting proxy.
	if [ -d /etc/ssl/certs ]; then mounts+=(-v /etc/ssl/certs:/etc/ssl/certs:ro); fi
	sources | docker run --rm -i --network host "${env_args[@]}" "${mounts[@]}" \
		-v "$(cd "$OUT" && pwd):/wheels" "$IMAGE" sh -ec '
			mkdir -p /tmp/src && tar -x -C /tmp/src
			python3 -m venv /tmp/venv
			/tmp/venv/bin/pip wheel --quiet --disable-pip-version-check --wheel-dir /wheels \
				/tmp/src setuptools wheel
			rm -f /wheels/tinykube-*.whl
			chown -R "$(stat -c %u:%g /wheels)" /wheels'
}

on_host() {
	local py src
	# The project's venv has pip; Debian's python3 may not.
	py="$ROOT/.venv/bin/python"
	[ -x "$py" ] || py="$(command -v python3)"
	src="$(mktemp -d)"
	sources | tar -x -C "$src"
	"$py" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$OUT" "$src" \
		setuptools wheel "${MARKER_ONLY[@]}"
	rm -rf "$src" "$OUT"/tinykube-*.whl
}

tk_log "building the wheelhouse $OUT with the python3 of $IMAGE"
if ! in_image; then
	tk_log "the image's pip could not build it; using the host's pip (with ${MARKER_ONLY[*]})"
	rm -rf "${OUT:?}"/*
	on_host || tk_die "could not build the wheelhouse"
fi
printf '%s\n' "$recipe" >"$OUT/.recipe"
tk_log "wheelhouse $OUT: $(find "$OUT" -name '*.whl' | wc -l) wheels"
