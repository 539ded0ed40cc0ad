#!/usr/bin/env bash
# Make sure PYTHON (default python3) is Python >= 3.11 able to create a virtual environment.
# As root on Debian/Ubuntu a missing python3 or python3-venv is installed with apt-get; anywhere
# else this stops with the exact command to run. Changes nothing when all is in place.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/host.sh
. "$HERE/host.sh"

PYTHON="${1:-${PYTHON:-python3}}"

version_ok() {
	"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

# Debian splits venv's pip bootstrap (ensurepip) into python3-venv.
venv_ok() {
	"$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1
}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
	if [ "$PYTHON" != python3 ]; then
		tk_die "PYTHON=$PYTHON was not found; install it or run make with PYTHON=python3."
	fi
	tk_need_packages "python3 is missing" python3 python3-venv
fi

if ! version_ok; then
	tk_die "tinykube needs Python >= 3.11, but $PYTHON is $("$PYTHON" -V 2>&1)." \
		"Run make with PYTHON=/path/to/python3.11-or-newer."
fi

if ! venv_ok; then
	if [ "$PYTHON" = python3 ]; then
		tk_need_packages "$PYTHON cannot create a virtual environment" python3-venv
	else
		minor="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
		tk_need_packages "$PYTHON cannot create a virtual environment" "python$minor-venv"
	fi
	venv_ok || tk_die "$PYTHON still cannot create a virtual environment (import ensurepip failed)."
fi
