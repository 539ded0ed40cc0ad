#!/usr/bin/env bash
# The control VM: install the server with scripts/install.sh, then leave the join token and an
# admin kubeconfig (pointing at the private address) in /tinykube/vagrant/.join for the workers
# and the host.
# Usage: provision-control.sh CONTROL_IP CLUSTER_CIDR
set -euo pipefail
CONTROL_IP="$1"
CLUSTER_CIDR="$2"
JOIN=/tinykube/vagrant/.join

/tinykube/scripts/install.sh --tls-san "$CONTROL_IP" --tls-san control \
	--write-kubeconfig-mode 0644 -- --cluster-cidr "$CLUSTER_CIDR"

for _ in $(seq 1 120); do
	[ -s /var/lib/tinykube/server/node-token ] && [ -s /etc/tinykube/tinykube.yaml ] && break
	sleep 1
done
[ -s /var/lib/tinykube/server/node-token ] ||
	{ echo "tinykube: the server made no join token; see journalctl -u tinykube-server" >&2; exit 1; }
mkdir -p "$JOIN"
install -m 0600 /var/lib/tinykube/server/node-token "$JOIN/node-token"
sed "s#https://127.0.0.1:#https://$CONTROL_IP:#" /etc/tinykube/tinykube.yaml >"$JOIN/kubeconfig.yaml"
chmod 0600 "$JOIN/kubeconfig.yaml"
echo "tinykube: control plane up at https://$CONTROL_IP:6443; token in vagrant/.join/node-token"
