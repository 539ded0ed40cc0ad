#!/usr/bin/env bash
# Install tinykube on a Debian or Ubuntu machine as systemd services, as k3s's installer does.
#
#   sudo scripts/install.sh                        # a server: Redis + the control plane
#   sudo TINYKUBE_URL=https://SERVER:6443 TINYKUBE_TOKEN=K10... scripts/install.sh   # an agent
#
# Options (the rest, after --, go to `tinykube control` or `tinykube agent` as they are):
#   --agent                      a server also runs an agent joined to itself (a one-machine cluster)
#   --write-kubeconfig-mode M    mode of the admin kubeconfig /etc/tinykube/tinykube.yaml (0600)
#   --tls-san NAME               another name or address for the server's certificate (repeatable)
#   --node-name NAME             the agent's node name (default: the host name)
#   --node-ip IP                 the address the agent reports (default: the primary address)
#   --port PORT                  the API port of a server (6443)
# Environment:
#   TINYKUBE_URL, TINYKUBE_TOKEN or TINYKUBE_TOKEN_FILE   agent mode: the server and join token
#   TINYKUBE_SOURCE       a tinykube checkout or wheel (default: the checkout holding this script)
#   TINYKUBE_WHEELHOUSE   install Python packages from this directory only (offline)
#   TINYKUBE_SKIP_START=1 install and enable, but do not start the services
# It installs python3-venv, Redis (server) and docker.io (agent) with apt-get when missing, a venv
# in /opt/tinykube, the units tinykube-redis, tinykube-server and tinykube-agent, their settings
# in /etc/default, and /usr/local/bin/{tinykube,tkctl,tinykube-uninstall.sh}. Running it again
# updates everything in place. Where systemd is not running (a container), it installs the same
# files and says that it could not enable the units.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/host.sh
. "$HERE/host.sh"

PREFIX=/opt/tinykube
VENV="$PREFIX/venv"
UNIT_DIR="${TINYKUBE_UNIT_DIR:-/etc/systemd/system}"
DEFAULTS=/etc/default
BIN_DIR=/usr/local/bin
DATA=/var/lib/tinykube
KUBECONFIG_PATH=/etc/tinykube/tinykube.yaml
# Secrets are encrypted at rest with this file's key (made once, kept across reinstalls).
ENCRYPTION_CONFIG=$DATA/server/encryption-config.yaml
REDIS_SOCKET=/run/tinykube-redis/redis.sock

MODE=server
WITH_AGENT=""
KUBECONFIG_MODE=0600
PORT=6443
NODE_NAME=""
NODE_IP=""
TLS_SANS=()
EXTRA=()

usage() {
	sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--agent) WITH_AGENT=1; shift ;;
		--write-kubeconfig-mode) KUBECONFIG_MODE="$2"; shift 2 ;;
		--write-kubeconfig-mode=*) KUBECONFIG_MODE="${1#*=}"; shift ;;
		--tls-san) TLS_SANS+=("$2"); shift 2 ;;
		--node-name) NODE_NAME="$2"; shift 2 ;;
		--node-ip) NODE_IP="$2"; shift 2 ;;
		--port) PORT="$2"; shift 2 ;;
		-h | --help) usage 0 ;;
		--) shift; EXTRA=("$@"); break ;;
		*) tk_log "unknown option $1 (pass tinykube's own flags after --)"; usage 2 >&2 ;;
		esac
	done
	[[ "$KUBECONFIG_MODE" =~ ^0?[0-7]{3}$ ]] || tk_die "--write-kubeconfig-mode: not a mode: $KUBECONFIG_MODE"
	if [ -n "${TINYKUBE_URL:-}" ]; then
		MODE=agent
		if [ -z "${TINYKUBE_TOKEN:-}" ] && [ -n "${TINYKUBE_TOKEN_FILE:-}" ]; then
			TINYKUBE_TOKEN="$(tr -d '[:space:]' <"$TINYKUBE_TOKEN_FILE")"
		fi
		[ -n "${TINYKUBE_TOKEN:-}" ] ||
			tk_die "TINYKUBE_URL is set, so this is an agent: it needs TINYKUBE_TOKEN (or" \
				"TINYKUBE_TOKEN_FILE), the server's $DATA/server/node-token."
	fi
}

# write_file PATH MODE: write stdin to PATH when it differs (then CHANGED=1).
write_file() {
	local path="$1" mode="$2" tmp
	tmp="$(mktemp "$path.XXXXXX")"
	cat >"$tmp"
	chmod "$mode" "$tmp"
	if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
		rm -f "$tmp"
		chmod "$mode" "$path"
		return 0
	fi
	mv -f "$tmp" "$path"
	tk_log "wrote $path"
	CHANGED=1
}

install_packages() {
	local missing=()
	# Debian splits venv's pip bootstrap out of python3: only a real venv proves it is there.
	command -v python3 >/dev/null 2>&1 && python3 -m venv "$WORK/probe" >/dev/null 2>&1 ||
		missing+=(python3 python3-venv)
	command -v update-ca-certificates >/dev/null 2>&1 || missing+=(ca-certificates)
	if [ "$MODE" = server ] && ! command -v redis-server >/dev/null 2>&1; then
		missing+=(redis-server)
		NEW_REDIS=1
	fi
	if [ "$MODE" = agent ] || [ -n "$WITH_AGENT" ]; then
		{ command -v dockerd && command -v docker; } >/dev/null 2>&1 || missing+=(docker.io)
	fi
	if [ "${#missing[@]}" -gt 0 ]; then
		tk_apt_install "${missing[@]}"
	fi
}

# The checkout or wheel to install, as a path pip accepts.
source_path() {
	local src="${TINYKUBE_SOURCE:-$(dirname "$HERE")}"
	if [ -f "$src" ]; then
		printf '%s\n' "$src"
		return
	fi
	[ -f "$src/pyproject.toml" ] || tk_die "$src is not a tinykube checkout (no pyproject.toml)" \
		"set TINYKUBE_SOURCE to a checkout or a wheel"
	# pip builds in the source tree: build from a copy, so a read-only checkout works.
	local copy="$WORK/src"
	mkdir -p "$copy"
	cp -R "$src/pyproject.toml" "$src/README.md" "$src/common" "$src/control" "$src/agent" "$copy/"
	find "$copy" -name __pycache__ -prune -exec rm -rf {} +
	printf '%s\n' "$copy"
}

install_venv() {
	mkdir -p "$PREFIX"
	[ -x "$VENV/bin/python" ] || { tk_log "creating $VENV"; python3 -m venv "$VENV"; }
	local pip=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
	if [ -n "${TINYKUBE_WHEELHOUSE:-}" ]; then
		pip+=(--no-index --find-links "$TINYKUBE_WHEELHOUSE")
	fi
	local src
	src="$(source_path)"
	tk_log "installing tinykube into $VENV from $src"
	"${pip[@]}" --upgrade "$src" || tk_die "pip install of $src failed"
	# The same version number again: make sure the files are this source's.
	"${pip[@]}" --no-deps --force-reinstall "$src" || tk_die "pip install of $src failed"
	ln -sfn "$VENV/bin/tinykube" "$BIN_DIR/tinykube"
	ln -sfn "$VENV/bin/tkctl" "$BIN_DIR/tkctl"
	install -m 0755 "$HERE/uninstall.sh" "$BIN_DIR/tinykube-uninstall.sh"
}

quote_args() {
	local out="" a
	for a in "$@"; do
		out+=" $(printf '%q' "$a")"
	done
	printf '%s' "${out# }"
}

redis_unit() {
	cat <<EOF
[Unit]
Description=Redis for the tinykube control plane (unix socket only, AOF)
Documentation=https://redis.io/docs/
After=network.target

[Service]
Type=simple
ExecStart=$(command -v redis-server || echo /usr/bin/redis-server) --port 0 --unixsocket $REDIS_SOCKET --unixsocketperm 700 --dir $DATA/redis --appendonly yes --appendfsync everysec --save "" --daemonize no
RuntimeDirectory=tinykube-redis
RuntimeDirectoryMode=0700
StateDirectory=tinykube/redis
StateDirectoryMode=0700
Restart=always
RestartSec=2s
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
EOF
}

server_unit() {
	cat <<EOF
[Unit]
Description=tinykube control plane (API server, scheduler, controllers)
Documentation=file://$PREFIX
Wants=network-online.target
After=network-online.target tinykube-redis.service
Requires=tinykube-redis.service

[Service]
Type=notify
EnvironmentFile=-$DEFAULTS/tinykube-server
ExecStart=$VENV/bin/tinykube control --redis-url unix://$REDIS_SOCKET?db=0 --data-dir $DATA/server --write-kubeconfig $KUBECONFIG_PATH --encryption-provider-config $ENCRYPTION_CONFIG \$TINYKUBE_SERVER_ARGS
Restart=always
RestartSec=5s
TimeoutStartSec=120
LimitNOFILE=1048576

[Install]
WantedBy=multi-user.target
EOF
}

agent_unit() {
	cat <<EOF
[Unit]
Description=tinykube node agent
Documentation=file://$PREFIX
Wants=network-online.target docker.service
After=network-online.target docker.service tinykube-server.service

[Service]
Type=simple
EnvironmentFile=-$DEFAULTS/tinykube-agent
ExecStart=$VENV/bin/tinykube agent --data-dir $DATA/agent \$TINYKUBE_AGENT_ARGS
# Pods are Docker containers, not children of the agent: stop only the agent itself, so that
# restarting or upgrading it leaves them running (as the kubelet's unit does).
KillMode=process
Restart=always
RestartSec=5s
LimitNOFILE=1048576

[Install]
WantedBy=multi-user.target
EOF
}

server_defaults() {
	local args=(--bind-address 0.0.0.0 --port "$PORT" --write-kubeconfig-mode "$KUBECONFIG_MODE")
	local san
	for san in "${TLS_SANS[@]}"; do
		args+=(--tls-san "$san")
	done
	args+=("${EXTRA[@]}")
	printf '# Settings of tinykube-server.service (written by install.sh; rerun it to change them).\n'
	printf 'TINYKUBE_SERVER_ARGS="%s"\n' "$(quote_args "${args[@]}")"
}

agent_defaults() {
	local url="$1" token="$2" token_file="${3:-}" args=()
	if [ -n "$NODE_NAME" ]; then args+=(--node-name "$NODE_NAME"); fi
	if [ -n "$NODE_IP" ]; then args+=(--node-ip "$NODE_IP"); fi
	if [ -n "$token_file" ]; then args+=(--token-file "$token_file"); fi
	if [ "$MODE" = agent ]; then args+=("${EXTRA[@]}"); fi
	printf '# Settings of tinykube-agent.service (written by install.sh; rerun it to change them).\n'
	printf 'TK_SERVER_URL=%s\n' "$url"
	if [ -n "$token" ]; then printf 'TK_TOKEN=%s\n' "$token"; fi
	printf 'TINYKUBE_AGENT_ARGS="%s"\n' "$(quote_args "${args[@]}")"
}

# kube-apiserver's EncryptionConfiguration with one random 32-byte aescbc key, then identity
# (what was stored before stays readable); an existing file is kept: its keys read the data.
encryption_config() {
	local key
	key="$(head -c 32 /dev/urandom | base64 -w0)"
	cat <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources:
  - secrets
  providers:
  - aescbc:
      keys:
      - name: key1
        secret: $key
  - identity: {}
EOF
}

write_units() {
	mkdir -p "$UNIT_DIR" "$DEFAULTS" "$DATA" /etc/tinykube
	chmod 0700 "$DATA"
	UNITS=()
	if [ "$MODE" = server ]; then
		write_file "$UNIT_DIR/tinykube-redis.service" 0644 < <(redis_unit)
		write_file "$UNIT_DIR/tinykube-server.service" 0644 < <(server_unit)
		mkdir -p "$DATA/server" && chmod 0700 "$DATA/server"
		if [ ! -s "$ENCRYPTION_CONFIG" ]; then
			write_file "$ENCRYPTION_CONFIG" 0600 < <(encryption_config)
		fi
		write_file "$DEFAULTS/tinykube-server" 0600 < <(server_defaults)
		write_file /etc/profile.d/tinykube.sh 0644 < <(printf 'export KUBECONFIG=%s\n' "$KUBECONFIG_PATH")
		UNITS+=(tinykube-redis.service tinykube-server.service)
	fi
	if [ "$MODE" = agent ]; then
		write_file "$UNIT_DIR/tinykube-agent.service" 0644 < <(agent_unit)
		write_file "$DEFAULTS/tinykube-agent" 0600 < <(agent_defaults "$TINYKUBE_URL" "$TINYKUBE_TOKEN")
		UNITS+=(tinykube-agent.service)
	elif [ -n "$WITH_AGENT" ]; then
		# The local agent joins with the server's own token file once the server has made it.
		write_file "$UNIT_DIR/tinykube-agent.service" 0644 < <(agent_unit)
		write_file "$DEFAULTS/tinykube-agent" 0600 < <(
			agent_defaults "https://127.0.0.1:$PORT" "" "$DATA/server/node-token")
		UNITS+=(tinykube-agent.service)
	fi
}

systemd_running() {
	[ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
}

start_units() {
	if ! systemd_running; then
		tk_log "systemd is not running here, so the units could not be enabled or started:" \
			"    ${UNITS[*]}" \
			"they are installed in $UNIT_DIR; on a machine booted with systemd run" \
			"    systemctl daemon-reload && systemctl enable --now ${UNITS[*]}"
		return 0
	fi
	systemctl daemon-reload
	if [ -n "$NEW_REDIS" ]; then
		# Only its binary is needed: tinykube-redis runs it privately, on a unix socket.
		systemctl disable --now redis-server.service >/dev/null 2>&1 || true
		tk_log "stopped and disabled Debian's redis-server.service (tinykube-redis runs Redis)"
	fi
	if [ "$MODE" = agent ] || [ -n "$WITH_AGENT" ]; then
		systemctl enable --now docker.service >/dev/null 2>&1 ||
			tk_log "warning: could not start docker.service"
	fi
	systemctl enable "${UNITS[@]}" >/dev/null
	if [ -n "${TINYKUBE_SKIP_START:-}" ]; then
		tk_log "enabled ${UNITS[*]} (not started: TINYKUBE_SKIP_START is set)"
		return 0
	fi
	local unit
	for unit in "${UNITS[@]}"; do
		if [ -n "$CHANGED" ] || ! systemctl is-active --quiet "$unit"; then
			tk_log "starting $unit"
			systemctl restart "$unit"
		fi
	done
}

summary() {
	if [ "$MODE" = server ]; then
		tk_log "server installed. Once it runs:" \
			"  join token:  $DATA/server/node-token   (agents: TINYKUBE_URL=https://<this host>:$PORT TINYKUBE_TOKEN=<token> install.sh)" \
			"  kubeconfig:  $KUBECONFIG_PATH (mode $KUBECONFIG_MODE); tkctl finds it through KUBECONFIG in a new login shell"
	else
		tk_log "agent installed: it joins $TINYKUBE_URL as ${NODE_NAME:-$(hostname)}"
	fi
	tk_log "logs: journalctl -u tinykube-$MODE; remove everything: tinykube-uninstall.sh"
}

main() {
	parse_args "$@"
	tk_is_root || tk_die "install.sh changes the system: run it as root (sudo $0)"
	tk_is_debian_like || tk_die "install.sh supports Debian and Ubuntu (apt-get, systemd)"
	WORK="$(mktemp -d)"
	trap 'rm -rf "$WORK"' EXIT
	CHANGED=""
	NEW_REDIS=""
	install_packages
	install_venv
	write_units
	start_units
	summary
}

main "$@"
