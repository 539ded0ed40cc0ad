#!/bin/sh
# tinykube-node: the command of a "node container" (docker-compose.yml's Mode B), a container that
# runs its own Docker engine as a real node does, kind-style. It joins the cluster (getting this
# node's pod CIDR), starts dockerd with its bridge on that CIDR, lets traffic to and between pod
# CIDRs through without NAT, keeps routes to the other nodes' pod CIDRs, then runs the agent.
# Env: TK_SERVER_URL, TK_TOKEN_FILE (or TK_TOKEN), TK_NODE_NAME, TK_CLUSTER_CIDR (10.244.0.0/16),
#      TK_DOCKERD_ARGS (extra dockerd flags), TK_AGENT_ARGS (extra agent flags).
set -eu

: "${TK_SERVER_URL:?TK_SERVER_URL is required}"
NODE="${TK_NODE_NAME:-$(hostname)}"
CLUSTER_CIDR="${TK_CLUSTER_CIDR:-10.244.0.0/16}"
DATA=/var/lib/tinykube/agent
log() { echo "tinykube-node: $*" >&2; }

token() {
	if [ -n "${TK_TOKEN_FILE:-}" ]; then
		# The server writes it at its first start: wait for it.
		i=0
		while [ ! -s "$TK_TOKEN_FILE" ] && [ $i -lt 120 ]; do sleep 1; i=$((i + 1)); done
		cat "$TK_TOKEN_FILE"
	else
		printf '%s' "${TK_TOKEN:?TK_TOKEN or TK_TOKEN_FILE is required}"
	fi
}
# The agent reads its token from the environment: on its command line, every process could read it.
TK_TOKEN="$(token)"
export TK_TOKEN

CIDR="$(tinykube agent join --server "$TK_SERVER_URL" --node-name "$NODE" --data-dir "$DATA")"
[ -n "$CIDR" ] || { log "the control plane gave no pod CIDR (start it with --cluster-cidr)"; exit 1; }
BIP="$(python3 -c 'import ipaddress,sys; n=ipaddress.ip_network(sys.argv[1]); print(f"{next(n.hosts())}/{n.prefixlen}")' "$CIDR")"
log "node $NODE: pod CIDR $CIDR, docker0 $BIP"

# A stale pid file from a previous run of this container would stop dockerd. The pods' cgroups
# go under this container's own (a relative --cgroup-parent), not beside the host engine's.
rm -f /var/run/docker.pid /run/docker/containerd/containerd.pid
# shellcheck disable=SC2086 # TK_DOCKERD_ARGS is a list of flags
dockerd --bip "$BIP" --cgroup-parent tinykube ${TK_DOCKERD_ARGS:-} >/var/log/dockerd.log 2>&1 &
i=0
until docker info >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 120 ]; then
		tail -n 20 /var/log/dockerd.log >&2
		log "dockerd did not start"
		exit 1
	fi
	sleep 0.5
done

# Pods on other nodes come in through eth0: docker's FORWARD rules would drop them.
iptables -C DOCKER-USER -d "$CIDR" -j ACCEPT 2>/dev/null || iptables -I DOCKER-USER -d "$CIDR" -j ACCEPT
# Pod to pod across nodes keeps the pod IP as its source (no masquerade), as Kubernetes wants.
iptables -t nat -C POSTROUTING -s "$CIDR" -d "$CLUSTER_CIDR" -j RETURN 2>/dev/null ||
	iptables -t nat -I POSTROUTING -s "$CIDR" -d "$CLUSTER_CIDR" -j RETURN
# Pod addresses that no node holds go nowhere (never out through the host).
ip route replace unreachable "$CLUSTER_CIDR"

tinykube agent routes --data-dir "$DATA" --cluster-cidr "$CLUSTER_CIDR" &

# shellcheck disable=SC2086 # TK_AGENT_ARGS is a list of flags
exec tinykube agent --server "$TK_SERVER_URL" --node-name "$NODE" --data-dir "$DATA" \
	${TK_AGENT_ARGS:-}
