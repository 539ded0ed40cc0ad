#!/usr/bin/env bash
# `make demo`: bring up a one-machine cluster (unless one already answers), run the first pod of
# the walkthrough (examples/pod.yaml), wait until it runs, then show it as `tkctl get pods -o wide`.
# Expects the venv and the example images (the Makefile makes both first).
# Env: VENV (default .venv), UP_ARGS (extra `tinykube up` options), DEMO_TIMEOUT (seconds, 120),
# TINYKUBE_DATA_DIR (the cluster's directory, as for `tinykube up`; default ~/.tinykube).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${VENV:-.venv}/bin"
POD=hello-kiamol-3
MANIFEST=examples/pod.yaml
# Generous for a cold first start on a slow machine; a warm start takes a few seconds.
DEMO_TIMEOUT="${DEMO_TIMEOUT:-120}"
# Talk only to the cluster `tinykube up` writes a kubeconfig for, never to one a KUBECONFIG names.
KUBECONFIG="${TINYKUBE_DATA_DIR:-$HOME/.tinykube}/kubeconfig.yaml"
export KUBECONFIG

say() {
	printf '\n==> %s\n' "$*"
}

# pod_field FIELD: one field of the pod's status (phase, podIP), empty when unknown.
pod_field() {
	"$BIN/tkctl" get pod "$POD" -o json 2>/dev/null |
		"$BIN/python" -c 'import json, sys; print(json.load(sys.stdin).get("status", {}).get(sys.argv[1], ""))' "$1" \
			2>/dev/null || true
}

if "$BIN/tkctl" get nodes >/dev/null 2>&1; then
	say "a tinykube cluster already answers; using it"
else
	say "tinykube up --detach ${UP_ARGS:-}"
	# shellcheck disable=SC2086  # UP_ARGS is a list of options
	"$BIN/tinykube" up --detach ${UP_ARGS:-}
fi

say "tkctl apply -f $MANIFEST"
"$BIN/tkctl" apply -f "$MANIFEST"

say "waiting for pod/$POD to run (up to ${DEMO_TIMEOUT}s)"
deadline=$((SECONDS + DEMO_TIMEOUT))
phase=""
while ((SECONDS < deadline)); do
	phase="$(pod_field phase)"
	case "$phase" in
	Running | Succeeded | Failed) break ;;
	esac
	sleep 1
done

say "tkctl get pods -o wide"
"$BIN/tkctl" get pods -o wide

if [ "$phase" != Running ]; then
	"$BIN/tkctl" describe pod "$POD" >&2 || true
	printf '\npod/%s is %s, not Running, after %ss.\n' "$POD" "${phase:-unknown}" "$DEMO_TIMEOUT" >&2
	exit 1
fi

ip="$(pod_field podIP)"
if [ -n "$ip" ]; then
	page="$("$BIN/python" -c 'import sys, urllib.request
print(urllib.request.urlopen("http://%s/" % sys.argv[1], timeout=5).read().decode().strip())' \
		"$ip" 2>/dev/null || true)"
	[ -n "$page" ] && say "http://$ip/ answers: $page"
fi

cat <<EOF

The cluster keeps running. Try:
    $BIN/tkctl logs $POD --tail=2
    $BIN/tkctl delete pod $POD
    make down          # stop the cluster
EOF
