#!/usr/bin/env bash
# Remove what scripts/install.sh installed: the tinykube units (stopped and disabled), their
# settings in /etc/default, /opt/tinykube, the commands in /usr/local/bin and /etc/tinykube, and
# the Service rules the agent wrote into iptables.
# The data in /var/lib/tinykube (CA, join token, Redis, node credentials) and the pods' containers
# are removed too unless --keep-data is given. Debian packages (docker.io, redis-server) stay.
# Usage: tinykube-uninstall.sh [--keep-data]
set -euo pipefail

UNIT_DIR="${TINYKUBE_UNIT_DIR:-/etc/systemd/system}"
UNITS=(tinykube-agent.service tinykube-server.service tinykube-redis.service)
KEEP_DATA=""

log() {
	printf 'tinykube: %s\n' "$*" >&2
}

case "${1:-}" in
--keep-data) KEEP_DATA=1 ;;
"") ;;
-h | --help) sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) log "unknown argument: $1"; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { log "run it as root (sudo $0)"; exit 1; }

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	for unit in "${UNITS[@]}"; do
		if systemctl list-unit-files "$unit" >/dev/null 2>&1; then
			systemctl disable --now "$unit" >/dev/null 2>&1 || true
		fi
	done
fi

if [ -z "$KEEP_DATA" ] && command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; then
	# The agent labels every container it makes (sandboxes and app containers).
	ids="$(docker ps -aq --filter label=tinykube.io/cluster 2>/dev/null || true)"
	if [ -n "$ids" ]; then
		log "removing the pods' containers"
		# shellcheck disable=SC2086 # one id per word
		docker rm -f $ids >/dev/null || true
	fi
fi

# The agent's kube-proxy rules (every tinykube cluster's chains) and route_localnet as it was.
if [ -x /opt/tinykube/venv/bin/python ]; then
	/opt/tinykube/venv/bin/python -m agent proxy-cleanup --all >/dev/null 2>&1 || true
fi

for unit in "${UNITS[@]}"; do
	rm -f "$UNIT_DIR/$unit"
done
rm -f /etc/default/tinykube-server /etc/default/tinykube-agent /etc/profile.d/tinykube.sh
rm -f /usr/local/bin/tinykube /usr/local/bin/tkctl /usr/local/bin/tinykube-uninstall.sh
rm -rf /opt/tinykube /etc/tinykube
if [ -z "$KEEP_DATA" ]; then
	# The pods' tmpfs volumes under the agent's root dir, deepest first, as kubeadm reset unmounts
	# the kubelet's dir: rm cannot remove a mount point, nor should it empty one.
	if [ -r /proc/self/mountinfo ]; then
		awk '$5 ~ "^/var/lib/tinykube/" { print $5 }' /proc/self/mountinfo | sort -r |
			while read -r point; do umount -l "$point" || true; done
	fi
	rm -rf /var/lib/tinykube
else
	log "kept /var/lib/tinykube"
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
fi
log "tinykube is uninstalled"
