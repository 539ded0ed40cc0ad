#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info` (honouring DOCKER_HOST), setting one up if allowed.
# When one answers, this changes nothing. Otherwise, as root on Debian/Ubuntu, it installs Debian's
# docker.io if dockerd or the docker client is missing, starts the daemon (systemctl, else service,
# else dockerd in the background, logging to /var/log/dockerd.log) and waits for it. Anywhere else it
# stops with the exact command to run.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/host.sh
. "$HERE/host.sh"

# Both overridable for this script's tests; the defaults are what users get.
DOCKERD_LOG="${TK_DOCKERD_LOG:-/var/log/dockerd.log}"
# A first start on a slow disk (vfs storage, nested engine) can take tens of seconds.
DOCKER_WAIT="${TK_DOCKER_WAIT:-60}"
# Long enough for a busy engine, short enough that a hung one does not stall `make`.
INFO_TIMEOUT=20

docker_info() {
	timeout "$INFO_TIMEOUT" docker info >/dev/null 2>&1
}

docker_answers() {
	command -v docker >/dev/null 2>&1 && docker_info
}

# True when DOCKER_HOST is unset or names the local engine this script can start.
local_engine() {
	case "${DOCKER_HOST:-}" in
	"" | unix:///var/run/docker.sock | unix:///run/docker.sock) return 0 ;;
	esac
	return 1
}

# wait_for_docker SECONDS [PID]: poll until the engine answers; give up early if PID died.
wait_for_docker() {
	local deadline=$((SECONDS + $1)) pid="${2:-}"
	while ((SECONDS < deadline)); do
		docker_info && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			docker_info && return 0
			return 1
		fi
		sleep 0.5
	done
	docker_info
}

explain_and_stop() {
	local why="" script="$HERE/ensure-docker.sh"
	if command -v docker >/dev/null 2>&1; then
		# Clients before 23 print the error on stdout ("ERROR: ...") and a useless line on stderr.
		why="$(timeout "$INFO_TIMEOUT" docker info 2>&1 | grep -v 'errors pretty printing' |
			grep -m1 -i -E 'error|cannot|denied' | sed -e 's/^ERROR: //' -e 's/: Get "http.*//' || true)"
	fi
	if ! local_engine; then
		if ! command -v docker >/dev/null 2>&1; then
			tk_die "DOCKER_HOST is set to $DOCKER_HOST but the docker client is missing." \
				"Install it (Debian/Ubuntu: sudo apt-get install -y docker.io), then run again."
		fi
		tk_die "no Docker engine answers at DOCKER_HOST=$DOCKER_HOST${why:+ ($why)}." \
			"Start that engine, or unset DOCKER_HOST to use a local one, then run again."
	fi
	if ! tk_is_root && [[ "$why" == *"ermission denied"* ]]; then
		tk_die "the Docker engine is running but $(id -un) may not use it ($why). Run:" \
			"    sudo usermod -aG docker $(id -un) && newgrp docker" \
			"then run the same make command again (or log out and in first)."
	fi
	if ! tk_is_debian_like; then
		tk_die "no Docker engine answers${why:+ ($why)}. Install Docker Engine for your" \
			"distribution (https://docs.docker.com/engine/install/), start it so that" \
			"'docker info' answers, then run the same make command again."
	fi
	tk_die "no Docker engine answers${why:+ ($why)}. Run once:" \
		"    sudo $script && sudo usermod -aG docker $(id -un) && newgrp docker" \
		"(it installs Debian's docker.io if needed and starts the daemon)," \
		"then run the same make command again."
}

start_daemon() {
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		tk_log "systemctl start docker"
		if systemctl start docker >&2 && wait_for_docker "$DOCKER_WAIT"; then
			return 0
		fi
	fi
	if command -v service >/dev/null 2>&1; then
		tk_log "service docker start"
		if service docker start >&2 && wait_for_docker "$DOCKER_WAIT"; then
			return 0
		fi
	fi
	tk_log "starting dockerd in the background (log: $DOCKERD_LOG)"
	mkdir -p "$(dirname "$DOCKERD_LOG")"
	local detach=()
	# Its own session, so the daemon outlives make and a Ctrl-C in this terminal.
	command -v setsid >/dev/null 2>&1 && detach=(setsid)
	"${detach[@]}" nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
	local pid=$!
	if wait_for_docker "$DOCKER_WAIT" "$pid"; then
		return 0
	fi
	tk_log "dockerd did not answer within ${DOCKER_WAIT}s; the end of $DOCKERD_LOG:"
	tail -n 20 "$DOCKERD_LOG" >&2 || true
	tk_die "no Docker engine could be started; see $DOCKERD_LOG."
}

main() {
	if docker_answers; then
		return 0
	fi
	if ! local_engine || ! tk_may_install; then
		explain_and_stop
	fi
	if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
		tk_log "no Docker engine answers: installing Debian's docker.io"
		tk_apt_install docker.io
		# Its postinst may already have started the daemon.
		if docker_info; then
			tk_log "Docker engine is up"
			return 0
		fi
	fi
	start_daemon
	tk_log "Docker engine is up"
}

main "$@"
