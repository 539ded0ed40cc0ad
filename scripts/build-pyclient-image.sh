#!/usr/bin/env bash
# Build tinykube-test/pyclient:1, an image with the kubernetes Python client, for the e2e tests
# whose pods call the API as a program in a cluster does (load_incluster_config()). No registry:
# FROM the Debian base image (scripts/build-base-image.sh), with the client's wheels fetched by the
# host's pip for the image's Python and installed offline. Rebuilt only when its recipe (client
# version, base image) changes; exits 3 when the package index cannot be reached.
# Usage: scripts/build-pyclient-image.sh [KUBERNETES_VERSION]   (default: the venv's client)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
# shellcheck source=scripts/host.sh
. "$HERE/host.sh"

TAG=tinykube-test/pyclient:1
BASE=tinykube/base:bookworm
RECIPE_LABEL=tinykube.io/pyclient-recipe
NO_INDEX=3
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"

version="${1:-$("$PY" -c 'from importlib.metadata import version; print(version("kubernetes"))')}"
"$HERE/build-base-image.sh" --flavour base
base_id="$(docker image inspect --format '{{.Id}}' "$BASE")"
recipe="$(printf '%s\n' "$version" "$base_id" | sha256sum | cut -c1-16)"
if [ "$(docker image inspect --format "{{ index .Config.Labels \"$RECIPE_LABEL\" }}" "$TAG" \
	2>/dev/null || true)" = "$recipe" ]; then
	tk_log "$TAG is up to date ($recipe)"
	exit 0
fi

# pip picks wheels for the image's interpreter and machine, not the host's.
read -r pyver machine < <(docker run --rm --entrypoint python3 "$BASE" -c \
	'import platform, sys; print("%d.%d" % sys.version_info[:2], platform.machine())')
abi="cp${pyver/./}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/wheels"
tk_log "fetching kubernetes==$version for Python $pyver on $machine"
if ! "$PY" -m pip download --quiet --disable-pip-version-check --dest "$WORK/wheels" \
	--only-binary=:all: --python-version "$pyver" --implementation cp --abi "$abi" \
	--platform "manylinux_2_17_$machine" --platform "manylinux2014_$machine" \
	"kubernetes==$version" >"$WORK/pip.log" 2>&1; then
	tail -n 5 "$WORK/pip.log" >&2
	tk_log "could not fetch the kubernetes client's wheels"
	exit "$NO_INDEX"
fi
cat >"$WORK/Dockerfile" <<EOF
FROM $BASE
COPY wheels /tmp/wheels
RUN python3 -m venv /opt/client \\
 && /opt/client/bin/pip install --quiet --no-index --find-links /tmp/wheels kubernetes==$version \\
 && rm -rf /tmp/wheels /root/.cache
ENV PATH=/opt/client/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL $RECIPE_LABEL=$recipe
CMD ["python3"]
EOF
tk_log "building $TAG ($recipe)"
old_id="$(docker image inspect --format '{{.Id}}' "$TAG" 2>/dev/null || true)"
if ! DOCKER_BUILDKIT=0 docker build --force-rm -q -t "$TAG" "$WORK" >"$WORK/build.log" 2>&1; then
	cat "$WORK/build.log" >&2
	tk_die "docker build of $TAG failed"
fi
if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect --format '{{.Id}}' "$TAG")" ]; then
	docker image rm "$old_id" >/dev/null 2>&1 || true
fi
