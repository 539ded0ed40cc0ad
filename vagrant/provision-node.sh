#!/usr/bin/env bash
# A worker VM: join the control plane with scripts/install.sh (agent mode), then make pods on
# different VMs reach each other by pod IP: Docker's bridge on this node's pod CIDR (from the
# join), no NAT between pod CIDRs, and routes to the other nodes' pod CIDRs (tinykube-routes).
# Usage: provision-node.sh CONTROL_IP NODE_IP CLUSTER_CIDR   (env TINYKUBE_TOKEN overrides the
# token file the control VM left in the synced folder)
set -euo pipefail
CONTROL_IP="$1"
NODE_IP="$2"
CLUSTER_CIDR="$3"
SERVER="https://$CONTROL_IP:6443"
TOKEN_FILE=/tinykube/vagrant/.join/node-token
DATA=/var/lib/tinykube/agent

token="${TINYKUBE_TOKEN:-}"
if [ -z "$token" ]; then
	# Providers that bring machines up in parallel (libvirt) may get here before the control VM.
	for _ in $(seq 1 600); do
		[ -s "$TOKEN_FILE" ] && break
		sleep 1
	done
	[ -s "$TOKEN_FILE" ] || {
		echo "tinykube: no join token in vagrant/.join/ (is the synced folder two-way?)." >&2
		echo "  Run: TINYKUBE_TOKEN=\$(vagrant ssh control -c 'sudo cat /var/lib/tinykube/server/node-token') vagrant provision $(hostname)" >&2
		exit 1
	}
	token="$(cat "$TOKEN_FILE")"
fi

TINYKUBE_URL="$SERVER" TINYKUBE_TOKEN="$token" /tinykube/scripts/install.sh --node-ip "$NODE_IP"

# The join (or the credential the agent stored) gives this node's pod CIDR.
# The token goes in the environment: a command line is readable by every process (ps).
cidr="$(TK_TOKEN="$token" /usr/local/bin/tinykube agent join --server "$SERVER" \
	--node-name "$(hostname)" --data-dir "$DATA")"
[ -n "$cidr" ] || { echo "tinykube: the control plane gave no pod CIDR" >&2; exit 1; }
bip="$(python3 -c 'import ipaddress,sys; n=ipaddress.ip_network(sys.argv[1]); print(f"{next(n.hosts())}/{n.prefixlen}")' "$cidr")"
mkdir -p /etc/docker
printf '{"bip": "%s"}\n' "$bip" >/etc/docker/daemon.json
systemctl restart docker

cat >/etc/systemd/system/tinykube-routes.service <<UNIT
[Unit]
Description=tinykube routes to the other nodes' pod CIDRs
After=docker.service tinykube-agent.service
Wants=docker.service

[Service]
Type=simple
ExecStartPre=/bin/sh -c 'iptables -C DOCKER-USER -d $cidr -j ACCEPT 2>/dev/null || iptables -I DOCKER-USER -d $cidr -j ACCEPT'
ExecStartPre=/bin/sh -c 'iptables -t nat -C POSTROUTING -s $cidr -d $CLUSTER_CIDR -j RETURN 2>/dev/null || iptables -t nat -I POSTROUTING -s $cidr -d $CLUSTER_CIDR -j RETURN'
ExecStart=/usr/local/bin/tinykube agent routes --data-dir $DATA --cluster-cidr $CLUSTER_CIDR
Restart=always
RestartSec=5s

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now tinykube-routes.service
# No registry needed: the example images are built on every node (FROM scratch + busybox).
/tinykube/scripts/build-images.sh
systemctl restart tinykube-agent.service
echo "tinykube: $(hostname) joined $SERVER with pod CIDR $cidr"
