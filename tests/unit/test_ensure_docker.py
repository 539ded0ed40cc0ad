"""scripts/ensure-docker.sh run against fake docker, dockerd, apt-get, service and id commands.

Each test builds a PATH holding only fakes (which record their calls) and the few real tools the
script needs, so every branch runs here without touching the real engine or the package system.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ensure-docker.sh"
REAL_TOOLS = [
    "basename", "bash", "cat", "cp", "dirname", "grep", "head", "ln", "mkdir", "nohup", "sed",
    "setsid", "sleep", "tail", "timeout",
]  # fmt: skip

# Fakes share a state directory: "up" exists while the fake engine answers; "calls" logs commands.
FAKE_DOCKER = """#!/bin/bash
echo "docker $*" >>"{state}/calls"
if [ "$1" = info ]; then
    if [ -n "${{FAKE_WANT_HOST:-}}" ] && [ "${{DOCKER_HOST:-}}" != "$FAKE_WANT_HOST" ]; then
        echo "Cannot connect to the Docker daemon at $DOCKER_HOST." >&2
        exit 1
    fi
    [ -e "{state}/up" ] && exit 0
    if [ -n "${{FAKE_DENIED:-}}" ]; then
        # As docker 20.10 reports it: the error on stdout, a useless line on stderr.
        echo "ERROR: permission denied while trying to connect to the Docker daemon socket"
        echo "errors pretty printing info" >&2
    else
        echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2
    fi
    exit 1
fi
"""
FAKE_DOCKERD = """#!/bin/bash
echo "dockerd $*" >>"{state}/calls"
if [ -n "${{FAKE_DOCKERD_FAILS:-}}" ]; then
    echo "failed to start daemon: iptables failed" >&2
    exit 1
fi
: >"{state}/up"
"""
FAKE_APT_GET = """#!/bin/bash
echo "apt-get $*" >>"{state}/calls"
if [ "$1" = install ]; then
    for p in "$@"; do
        if [ "$p" = docker.io ]; then
            ln -sf "{pkg}/docker" "{bin}/docker"
            ln -sf "{pkg}/dockerd" "{bin}/dockerd"
            [ -n "${{FAKE_POSTINST_STARTS:-}}" ] && : >"{state}/up"
        fi
    done
fi
exit 0
"""
FAKE_SERVICE = """#!/bin/bash
echo "$(basename "$0") $*" >>"{state}/calls"
if [ -n "${{FAKE_SERVICE_WORKS:-}}" ]; then : >"{state}/up"; exit 0; fi
echo "docker: unrecognized service" >&2
exit 1
"""
FAKE_ID = """#!/bin/bash
case "$1" in
-u) echo "${{FAKE_UID:-0}}" ;;
-un) if [ "${{FAKE_UID:-0}}" = 0 ]; then echo root; else echo alice; fi ;;
esac
"""


@dataclass
class Host:
    root: Path
    bin: Path
    state: Path
    env: dict[str, str]

    def install(self, name: str, text: str, where: Path | None = None) -> None:
        path = (where or self.bin) / name
        path.write_text(
            text.format(state=self.state, bin=self.bin, pkg=self.root / "pkg"), encoding="utf-8"
        )
        path.chmod(0o755)

    def run(self, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SCRIPT)],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def calls(self) -> list[str]:
        log = self.state / "calls"
        return log.read_text(encoding="utf-8").splitlines() if log.exists() else []

    def engine_up(self) -> None:
        (self.state / "up").touch()


def exec_dir(tmp_path: Path) -> Path:
    """tmp_path, or a directory under the checkout when tmp_path is mounted noexec."""
    probe = tmp_path / "probe"
    probe.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    probe.chmod(0o755)
    try:
        subprocess.run([str(probe)], check=True)
        return tmp_path
    except PermissionError:
        scratch = ROOT / ".tmp"
        scratch.mkdir(exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="ensure-docker-", dir=scratch))


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    base = exec_dir(tmp_path)
    yield make_host(base)
    if base != tmp_path:
        shutil.rmtree(base, ignore_errors=True)


def make_host(tmp_path: Path) -> Host:
    tools = tmp_path / "tools"
    fakes = tmp_path / "bin"
    state = tmp_path / "state"
    pkg = tmp_path / "pkg"
    for d in (tools, fakes, state, pkg):
        d.mkdir()
    for tool in REAL_TOOLS:
        real = shutil.which(tool)
        if real is None:
            pytest.skip(f"{tool} is not installed")
        (tools / tool).symlink_to(real)
    os_release = tmp_path / "os-release"
    os_release.write_text('ID=debian\nVERSION_ID="12"\n', encoding="utf-8")
    env = {
        "PATH": f"{fakes}:{tools}",
        "HOME": str(tmp_path),
        "TK_OS_RELEASE": str(os_release),
        "TK_DOCKERD_LOG": str(tmp_path / "log" / "dockerd.log"),
        "TK_DOCKER_WAIT": "5",
    }
    h = Host(tmp_path, fakes, state, env)
    h.install("docker", FAKE_DOCKER, pkg)
    h.install("dockerd", FAKE_DOCKERD, pkg)
    h.install("apt-get", FAKE_APT_GET)
    h.install("service", FAKE_SERVICE)
    h.install("systemctl", FAKE_SERVICE)
    h.install("id", FAKE_ID)
    return h


def with_docker_installed(host: Host) -> None:
    for name in ("docker", "dockerd"):
        (host.bin / name).symlink_to(host.root / "pkg" / name)


def changes(calls: list[str]) -> list[str]:
    """The calls that change the system (everything but `docker info`)."""
    return [c for c in calls if not c.startswith("docker info")]


def test_engine_that_answers_is_left_alone(host: Host) -> None:
    with_docker_installed(host)
    host.engine_up()
    result = host.run()
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert changes(host.calls()) == []


def test_fresh_machine_installs_docker_io_and_starts_dockerd(host: Host) -> None:
    result = host.run()
    assert result.returncode == 0, result.stderr
    calls = changes(host.calls())
    assert calls[0] == "apt-get update -q"
    assert calls[1].startswith("apt-get install") and calls[1].endswith("docker.io")
    assert "service docker start" in calls
    assert calls[-1] == "dockerd "
    assert "Docker engine is up" in result.stderr
    assert (host.root / "log" / "dockerd.log").exists()


def test_postinst_that_starts_the_daemon_is_enough(host: Host) -> None:
    result = host.run(FAKE_POSTINST_STARTS="1")
    assert result.returncode == 0, result.stderr
    calls = changes(host.calls())
    assert [c.split()[0] for c in calls] == ["apt-get", "apt-get"]


def test_client_without_daemon_uses_the_service_when_it_works(host: Host) -> None:
    with_docker_installed(host)
    result = host.run(FAKE_SERVICE_WORKS="1")
    assert result.returncode == 0, result.stderr
    calls = changes(host.calls())
    assert not any(c.startswith(("apt-get", "dockerd")) for c in calls)
    assert calls[-1] == "service docker start"


def test_client_without_dockerd_installs_docker_io(host: Host) -> None:
    (host.bin / "docker").symlink_to(host.root / "pkg" / "docker")
    result = host.run()
    assert result.returncode == 0, result.stderr
    assert any(c.startswith("apt-get install") for c in host.calls())


def test_dockerd_that_dies_is_reported_with_its_log(host: Host) -> None:
    with_docker_installed(host)
    result = host.run(FAKE_DOCKERD_FAILS="1")
    assert result.returncode == 1
    assert "iptables failed" in result.stderr
    assert "no Docker engine could be started" in result.stderr


def test_non_root_gets_the_exact_command_and_nothing_changes(host: Host) -> None:
    result = host.run(FAKE_UID="1000")
    assert result.returncode == 1
    assert f"sudo {SCRIPT}" in result.stderr
    assert "usermod -aG docker alice" in result.stderr
    assert changes(host.calls()) == []


def test_non_root_without_socket_access_is_told_to_join_the_docker_group(host: Host) -> None:
    with_docker_installed(host)
    result = host.run(FAKE_UID="1000", FAKE_DENIED="1")
    assert result.returncode == 1
    assert "sudo usermod -aG docker alice && newgrp docker" in result.stderr
    assert f"sudo {SCRIPT}" not in result.stderr
    assert changes(host.calls()) == []


@pytest.mark.parametrize("os_id", ["fedora", None])
def test_root_on_another_os_is_told_to_install_docker(host: Host, os_id: str | None) -> None:
    if os_id is None:
        (host.bin / "apt-get").unlink()
    else:
        Path(host.env["TK_OS_RELEASE"]).write_text(f"ID={os_id}\n", encoding="utf-8")
    result = host.run()
    assert result.returncode == 1
    assert "https://docs.docker.com/engine/install/" in result.stderr
    assert changes(host.calls()) == []


def test_ubuntu_counts_as_debian(host: Host) -> None:
    Path(host.env["TK_OS_RELEASE"]).write_text("ID=ubuntu\nID_LIKE=debian\n", encoding="utf-8")
    result = host.run()
    assert result.returncode == 0, result.stderr
    assert any(c.startswith("apt-get install") for c in host.calls())


def test_docker_host_is_honoured(host: Host) -> None:
    with_docker_installed(host)
    host.engine_up()
    result = host.run(DOCKER_HOST="tcp://10.0.0.5:2375", FAKE_WANT_HOST="tcp://10.0.0.5:2375")
    assert result.returncode == 0, result.stderr
    assert changes(host.calls()) == []


def test_remote_docker_host_that_does_not_answer_is_not_replaced(host: Host) -> None:
    with_docker_installed(host)
    result = host.run(DOCKER_HOST="tcp://10.0.0.5:2375")
    assert result.returncode == 1
    assert "DOCKER_HOST=tcp://10.0.0.5:2375" in result.stderr
    assert "unset DOCKER_HOST" in result.stderr
    assert changes(host.calls()) == []


def test_script_is_valid_bash() -> None:
    for script in sorted((ROOT / "scripts").glob("*.sh")):
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script.name}: {result.stderr}"
    assert os.access(SCRIPT, os.X_OK)
