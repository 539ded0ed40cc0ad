"""Crash safety: ``kill -9`` the control plane, then Redis, while objects are being written. The
supervisor restarts them; every acknowledged object must be intact and the running pod untouched
(same containers, never restarted)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from common import errors
from common.client import ApiClient
from common.kubeconfig import load_file, resolve
from common.redis_server import free_port
from common.resources import must
from tests.e2e.conftest import BIN, Cluster, assert_nothing_mounted, containers, wait_for

PODS = must("pods")


@pytest.fixture
def small_cluster(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Cluster]:
    port = free_port()
    subprocess.run(
        [
            str(BIN / "tinykube"),
            "up",
            "--data-dir",
            str(tmp_path),
            "--port",
            str(port),
            "--agents",
            "1",
            "--detach",
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    try:
        yield Cluster(tmp_path, tmp_path / "kubeconfig.yaml", port)
    finally:
        subprocess.run(
            [str(BIN / "tinykube"), "down", "--data-dir", str(tmp_path)],
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert_nothing_mounted(tmp_path)


def parked_pod(name: str) -> dict[str, Any]:
    """A pod no node matches: it stays Pending, so writing many starts no container."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"written": "yes"}},
        "spec": {
            "nodeSelector": {"tinykube.io/parked": "true"},
            "containers": [{"name": "c", "image": "tinykube/sleeper:1"}],
        },
    }


class Writer(threading.Thread):
    """Creates objects as fast as the API takes them; remembers each acknowledged one."""

    def __init__(self, client: ApiClient) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.acked: list[str] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            name = f"w-{i}"
            try:
                self.client.create(PODS, parked_pod(name), "default")
                self.acked.append(name)
                i += 1
            except errors.AlreadyExistsError:
                self.acked.append(name)  # acknowledged before the crash, answer lost
                i += 1
            except errors.ApiError:
                self.failures += 1
                time.sleep(0.05)


def kill(cluster: Cluster, process: str) -> None:
    pid = cluster.state()["processes"][process]
    os.killpg(pid, signal.SIGKILL)  # the whole process (gunicorn's master and its worker)
    wait_for(f"{process} restarted", lambda: cluster.state()["processes"][process] != pid)


def test_kill_control_plane_then_redis_while_writing(
    small_cluster: Cluster, docker_client: docker.DockerClient
) -> None:
    c = small_cluster
    c.tkctl("run", "steady", "--image=tinykube/sleeper:1")
    wait_for(
        "steady Running", lambda: c.json("get", "pod", "steady")["status"].get("phase") == "Running"
    )
    before = {
        x.id: x.attrs["State"]["StartedAt"]
        for x in containers(docker_client, c.cluster_id, **{"io.kubernetes.pod.name": "steady"})
    }
    cfg = resolve(load_file(str(c.kubeconfig)))
    writer = Writer(ApiClient(cfg.server, cfg.token, ca_file=cfg.ca_file, timeout=5))
    writer.start()
    wait_for("some writes", lambda: len(writer.acked) >= 20)
    kill(c, "control")
    wait_for("writes after the control plane restart", lambda: len(writer.acked) >= 60, timeout=90)
    kill(c, "redis")
    acked_before_redis = len(writer.acked)
    wait_for(
        "writes after the Redis restart",
        lambda: len(writer.acked) >= acked_before_redis + 40,
        timeout=90,
    )
    writer.stop.set()
    writer.join(30)
    print(f"acknowledged writes: {len(writer.acked)}, refused in the outages: {writer.failures}")
    stored = {p["metadata"]["name"] for p in c.json("get", "pods", "-l", "written=yes")["items"]}
    missing = [n for n in writer.acked if n not in stored]
    assert not missing, f"{len(missing)} acknowledged objects lost: {missing[:10]}"
    after = {
        x.id: x.attrs["State"]["StartedAt"]
        for x in containers(docker_client, c.cluster_id, **{"io.kubernetes.pod.name": "steady"})
    }
    assert after == before
    pod = c.json("get", "pod", "steady")
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
