"""End-to-end fixtures: a real cluster started with ``tinykube up --detach`` (private Redis,
control plane, two agents on the local Docker engine), driven with ``tkctl`` as a user types it
and checked with the Docker SDK. Needs a Docker engine and the example images (``make images``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from agent import mountinfo
from common.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@dataclass
class Cluster:
    data_dir: Path
    kubeconfig: Path
    port: int
    # Where the agents' cluster DNS forwards names not the cluster's: a test may serve it.
    dns_upstream_port: int = 0

    def tkctl(
        self, *args: str, check: bool = True, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [str(BIN / "tkctl"), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and out.returncode != 0:
            raise AssertionError(f"tkctl {' '.join(args)} failed ({out.returncode}): {out.stderr}")
        return out

    def json(self, *args: str) -> Any:
        return json.loads(self.tkctl(*args, "-o", "json").stdout)

    def state(self) -> dict[str, Any]:
        return dict(json.loads((self.data_dir / "state.json").read_text()))

    @property
    def cluster_id(self) -> str:
        return str(self.state()["cluster"])


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except AssertionError as e:
            last = e
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def assert_nothing_mounted(directory: Path) -> None:
    """A stopped cluster or agent leaves no mount under its directory: pytest could not remove
    it, and on a host its pods' tmpfs volumes would outlive it."""
    left = mountinfo.under(mountinfo.parse(mountinfo.table()), os.path.realpath(directory))
    assert not left, f"still mounted under {directory}: {left}"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as e:
        pytest.fail(
            f"no Docker engine answers ({e}); run `make docker` or scripts/ensure-docker.sh"
        )
    for image in ("tinykube/web:1", "tinykube/sleeper:1"):
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            subprocess.run([str(ROOT / "scripts" / "build-images.sh")], check=True)
            break
    yield client
    client.close()


@pytest.fixture(scope="session")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[Cluster]:
    data_dir = tmp_path_factory.mktemp("cluster")
    port = free_port()
    dns_upstream_port = free_port()
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    up = subprocess.run(
        [
            str(BIN / "tinykube"),
            "up",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--agents",
            "2",
            f"--agent-arg=--dns-upstream=127.0.0.1:{dns_upstream_port}",
            "--detach",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    c = Cluster(data_dir, data_dir / "kubeconfig.yaml", port, dns_upstream_port)
    try:
        if up.returncode != 0:
            logs = "".join(
                f"\n--- {p.name}\n{p.read_text()[-3000:]}" for p in (data_dir / "logs").glob("*")
            )
            pytest.fail(f"tinykube up failed: {up.stdout}{up.stderr}{logs}")
        yield c
    finally:
        subprocess.run(
            [str(BIN / "tinykube"), "down", "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        assert_nothing_mounted(data_dir)


def containers(client: docker.DockerClient, cluster_id: str, **labels: str) -> list[Any]:
    filters = [f"tinykube.io/cluster={cluster_id}", *(f"{k}={v}" for k, v in labels.items())]
    return list(client.containers.list(all=True, filters={"label": filters}))
