"""scripts/install.sh in a throwaway Debian container (a debootstrap base image, no registry):
it installs a server, then an agent, runs again without changing anything, says that it could not
enable the units where systemd is not running, and its units pass ``systemd-analyze verify``;
scripts/uninstall.sh removes it all. Needs the Debian mirror; skipped only when debootstrap cannot
reach it."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

BASE = "tinykube/base:bookworm"
WHEELHOUSE = ROOT / ".tmp" / "wheelhouse-bookworm"
TOKEN = "K10" + "a" * 64 + "::node:secret"
# The ExecStart lines of tinykube-redis and tinykube-server, run by hand (no systemd here).
SERVE_AS_THE_UNITS_WOULD = r"""
set -e
mkdir -p /run/tinykube-redis /var/lib/tinykube/redis
redis-server --port 0 --unixsocket /run/tinykube-redis/redis.sock --unixsocketperm 700 \
    --dir /var/lib/tinykube/redis --appendonly yes --save '' --daemonize yes
set -a; . /etc/default/tinykube-server; set +a
nohup /opt/tinykube/venv/bin/tinykube control \
    --redis-url 'unix:///run/tinykube-redis/redis.sock?db=0' \
    --data-dir /var/lib/tinykube/server --write-kubeconfig /etc/tinykube/tinykube.yaml \
    --encryption-provider-config /var/lib/tinykube/server/encryption-config.yaml \
    $TINYKUBE_SERVER_ARGS >/tmp/control.log 2>&1 &
for i in $(seq 1 60); do
    KUBECONFIG=/etc/tinykube/tinykube.yaml tkctl get nodes >/tmp/nodes 2>&1 \
        && cat /tmp/nodes && exit 0
    sleep 1
done
cat /tmp/control.log
exit 1
"""


def base_image() -> str:
    out = subprocess.run(
        [str(ROOT / "scripts" / "build-base-image.sh")], capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        if "debootstrap failed" in out.stderr:
            pytest.skip(f"the Debian mirror cannot be reached: {out.stderr.strip()[-300:]}")
        raise AssertionError(f"build-base-image.sh failed: {out.stderr}")
    subprocess.run(
        [str(ROOT / "scripts" / "build-wheelhouse.sh"), BASE, str(WHEELHOUSE)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return BASE


@pytest.fixture(scope="module")
def box(docker_client: docker.DockerClient) -> Iterator[docker.models.containers.Container]:
    image = base_image()
    container = docker_client.containers.run(
        image,
        ["sleep", "infinity"],
        name=f"tinykube-install-test-{uuid.uuid4().hex[:8]}",
        detach=True,
        volumes={
            str(ROOT): {"bind": "/src", "mode": "ro"},
            str(WHEELHOUSE): {"bind": "/wheels", "mode": "ro"},
        },
        labels={"tinykube.io/test": "install-script"},
    )
    try:
        yield container
    finally:
        container.remove(force=True)


def sh(box: docker.models.containers.Container, script: str) -> tuple[int, str]:
    code, out = box.exec_run(["bash", "-c", script], environment={"TINYKUBE_WHEELHOUSE": "/wheels"})
    return code, out.decode(errors="replace")


def test_install_server_then_agent_then_uninstall(box: docker.models.containers.Container) -> None:
    code, out = sh(
        box, "/src/scripts/install.sh --agent --write-kubeconfig-mode 0644 --tls-san api.test"
    )
    assert code == 0, out
    assert "systemd is not running here, so the units could not be enabled" in out
    code, out = sh(box, "cat /etc/default/tinykube-agent")
    assert "TK_SERVER_URL=https://127.0.0.1:6443" in out
    assert "--token-file /var/lib/tinykube/server/node-token" in out
    # What the units would run works with the installed venv: Redis on its socket, the server.
    code, out = sh(box, SERVE_AS_THE_UNITS_WOULD)
    assert code == 0, out
    assert "NAME" in out or "No resources found" in out, out
    code, out = sh(
        box,
        "stat -c %a /etc/tinykube/tinykube.yaml /var/lib/tinykube/server/node-token "
        "/var/lib/tinykube/server/encryption-config.yaml",
    )
    assert out.split() == ["644", "600", "600"], out
    # Secrets are encrypted at rest with the key the installer made, which the unit passes.
    flag = "--encryption-provider-config /var/lib/tinykube/server/encryption-config.yaml"
    code, out = sh(box, f"grep -c -- '{flag}' /etc/systemd/system/tinykube-server.service")
    assert out.strip() == "1", out
    code, out = sh(box, "KUBECONFIG=/etc/tinykube/tinykube.yaml tkctl create secret generic s "
                        "--from-literal=k=v && redis-cli -s /run/tinykube-redis/redis.sock "
                        "HGET tk:o:secrets:default:s o | head -c 23")  # fmt: skip
    assert code == 0 and out.endswith("k8s:enc:aescbc:v1:key1:"), out
    code, out = sh(box, "/usr/local/bin/tinykube control --help && tkctl version --client")
    assert code == 0 and "--tls-san" in out, out
    code, out = sh(box, "cat /etc/default/tinykube-server; stat -c %a /etc/default/tinykube-server")
    assert "--write-kubeconfig-mode 0644" in out and "--tls-san api.test" in out
    assert out.strip().endswith("600")
    # Again: nothing to change.
    code, out = sh(
        box, "/src/scripts/install.sh --agent --write-kubeconfig-mode 0644 --tls-san api.test"
    )
    assert code == 0 and "wrote" not in out, out
    # An agent, as k3s's K3S_URL/K3S_TOKEN select it.
    code, out = sh(
        box,
        f"TINYKUBE_URL=https://192.0.2.10:6443 TINYKUBE_TOKEN='{TOKEN}' "
        "/src/scripts/install.sh --node-name worker-1 --node-ip 192.0.2.11",
    )
    assert code == 0, out
    code, out = sh(box, "cat /etc/default/tinykube-agent; stat -c %a /etc/default/tinykube-agent")
    assert f"TK_TOKEN={TOKEN}" in out and "--node-name worker-1" in out
    assert out.strip().endswith("600")
    code, out = sh(box, "command -v dockerd docker redis-server")
    assert code == 0, out
    # The units as systemd itself reads them.
    code, out = sh(
        box,
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd "
        ">/dev/null 2>&1; cd /etc/systemd/system && systemd-analyze verify "
        "tinykube-redis.service tinykube-server.service tinykube-agent.service && echo VERIFIED",
    )
    assert code == 0 and "VERIFIED" in out, out
    code, out = sh(box, "grep -h -E '^(Type|KillMode|Restart)=' /etc/systemd/system/tinykube-*")
    assert "KillMode=process" in out and "Restart=always" in out and "Type=notify" in out
    code, out = sh(box, "tinykube-uninstall.sh && ls /opt /etc/systemd/system /usr/local/bin")
    assert code == 0, out
    assert "tinykube" not in out.split("is uninstalled", 1)[1]


def test_install_refuses_an_agent_without_a_token(box: docker.models.containers.Container) -> None:
    code, out = sh(box, "TINYKUBE_URL=https://192.0.2.10:6443 /src/scripts/install.sh")
    assert code != 0 and "needs TINYKUBE_TOKEN" in out, out


def test_install_script_is_clean_bash() -> None:
    for name in ("install.sh", "uninstall.sh"):
        subprocess.run(["bash", "-n", str(ROOT / "scripts" / name)], check=True)
    assert Path(ROOT / "scripts" / "uninstall.sh").stat().st_mode & 0o111
