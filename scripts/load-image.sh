#!/usr/bin/env bash
# Copy images from the host's Docker engine into node containers (docker-compose.yml's Mode B),
# which have engines of their own and no registry to pull from: docker save | docker exec docker
# load. Like `kind load docker-image`.
# Usage: scripts/load-image.sh IMAGE... [-- NODE_CONTAINER...]
#   default nodes: every running container labelled tinykube.io/role=node
set -euo pipefail

images=()
nodes=()
while [ $# -gt 0 ]; do
	case "$1" in
	--) shift; nodes=("$@"); break ;;
	-h | --help) sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) images+=("$1"); shift ;;
	esac
done
[ "${#images[@]}" -gt 0 ] || { echo "usage: $0 IMAGE... [-- NODE...]" >&2; exit 2; }
if [ "${#nodes[@]}" -eq 0 ]; then
	mapfile -t nodes < <(docker ps --filter label=tinykube.io/role=node --format '{{.Names}}')
fi
[ "${#nodes[@]}" -gt 0 ] || { echo "tinykube: no node containers are running" >&2; exit 1; }

archive="$(mktemp)"
trap 'rm -f "$archive"' EXIT
docker save "${images[@]}" -o "$archive"
for node in "${nodes[@]}"; do
	echo "tinykube: loading ${images[*]} into $node" >&2
	docker exec -i "$node" docker load -q <"$archive" >/dev/null
done
