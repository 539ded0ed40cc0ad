#!/usr/bin/env bash
# Make sure `docker-compose` (Debian's 1.29, compose file format 2.4) is there for
# docker-compose.yml and its tests; as root on Debian/Ubuntu it is installed with apt-get,
# elsewhere this stops with the command to run. Prints the command to use.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/host.sh
. "$HERE/host.sh"

if ! command -v docker-compose >/dev/null 2>&1; then
	tk_need_packages "the multi-node demo needs docker-compose" docker-compose
fi
command -v docker-compose
