"""Restart timing on real Docker, on a one-node cluster of its own whose agent runs with a short
CrashLoopBackOff (``--agent-arg=--backoff-base=1 --backoff-cap=4``): the waits between restarts
double from the base to the cap, and an agent restart with running, probed pods restarts no
container and never reports a ready pod unready."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from common.redis_server import free_port
from tests.e2e.conftest import BIN, Cluster, assert_nothing_mounted, wait_for

BASE, CAP = 1.0, 4.0


@contextlib.contextmanager
def start_cluster(data_dir: Path, *extra: str) -> Iterator[Cluster]:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    port = free_port()
    up = subprocess.run(
        [str(BIN / "tinykube"), "up", "--data-dir", str(data_dir), "--port", str(port),
         "--agents", "1", "--detach", *extra],
        capture_output=True, text=True, timeout=180, env=env, check=False,
    )  # fmt: skip
    try:
        if up.returncode != 0:
            pytest.fail(f"tinykube up failed: {up.stdout}{up.stderr}")
        yield Cluster(data_dir, data_dir / "kubeconfig.yaml", port)
    finally:
        subprocess.run([str(BIN / "tinykube"), "down", "--data-dir", str(data_dir)],
                       capture_output=True, timeout=120, env=env, check=False)  # fmt: skip
        assert_nothing_mounted(data_dir)


@pytest.fixture(scope="module")
def quick(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[Cluster]:
    args = (f"--agent-arg=--backoff-base={BASE}", f"--agent-arg=--backoff-cap={CAP}")
    with start_cluster(tmp_path_factory.mktemp("quick"), *args) as c:
        yield c


def apply(cluster: Cluster, manifest: str) -> None:
    cluster.tkctl("apply", "-f", "-", stdin=textwrap.dedent(manifest))


def test_crash_loop_back_off_doubles_to_the_cap(
    quick: Cluster, docker_client: docker.DockerClient
) -> None:
    labels = [f"tinykube.io/cluster={quick.cluster_id}", "io.kubernetes.pod.name=crashy",
              "io.kubernetes.container.name=app"]  # fmt: skip
    events: list[tuple[str, int]] = []
    stream = docker_client.api.events(
        decode=True, filters={"type": "container", "event": ["start", "die"], "label": labels}
    )

    def collect() -> None:
        with contextlib.suppress(Exception):  # ends when the stream is closed
            for e in stream:
                events.append((str(e["Action"]), int(e["timeNano"])))

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    try:
        apply(quick, """\
            apiVersion: v1
            kind: Pod
            metadata: {name: crashy}
            spec:
              containers:
              - name: app
                image: tinykube/crasher:1
                env: [{name: CRASH_AFTER, value: "0"}]
            """)  # fmt: skip
        wait_for("six exits", lambda: sum(a == "die" for a, _ in events) >= 6, timeout=90)
    finally:
        stream.close()
    # The wait before each restart: from one die to the next start.
    waits = []
    last_die = None
    for action, t in events:
        if action == "die":
            last_die = t
        elif last_die is not None:
            waits.append((t - last_die) / 1e9)
            last_die = None
    expected = [0.0, BASE, 2 * BASE, CAP, CAP]
    assert len(waits) >= len(expected), events
    for got, want in zip(waits, expected, strict=False):
        assert want - 0.1 <= got <= want + 1.5, (waits, expected)
    status = quick.json("get", "pod", "crashy")["status"]["containerStatuses"][0]
    assert status["restartCount"] >= 5
    describe = quick.tkctl("get", "events", "--field-selector", "involvedObject.name=crashy")
    assert "Back-off restarting failed container app in pod crashy_default" in describe.stdout


def _started_at(client: docker.DockerClient, cluster: Cluster, pod: str) -> dict[str, Any]:
    filters = {"label": [f"tinykube.io/cluster={cluster.cluster_id}",
                         f"io.kubernetes.pod.name={pod}"]}  # fmt: skip
    return {
        c.id: c.attrs["State"]["StartedAt"]
        for c in client.containers.list(all=True, filters=filters)
    }


def test_agent_restart_restarts_nothing_and_keeps_readiness(
    quick: Cluster, docker_client: docker.DockerClient
) -> None:
    apply(quick, """\
        apiVersion: v1
        kind: Pod
        metadata: {name: steady}
        spec:
          containers:
          - name: web
            image: tinykube/web:1
            readinessProbe:
              httpGet: {path: /, port: 80}
              periodSeconds: 1
        """)  # fmt: skip

    def ready() -> bool:
        statuses = quick.json("get", "pod", "steady")["status"].get("containerStatuses") or []
        return bool(statuses) and statuses[0]["ready"] is True

    wait_for("steady ready", ready)
    before = _started_at(docker_client, quick, "steady")
    assert len(before) == 2
    seen: list[bool] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(ready())
            stop.wait(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        old = quick.state()["processes"]["node-1"]
        os.kill(old, signal.SIGKILL)
        wait_for("a new agent", lambda: quick.state()["processes"]["node-1"] != old)
        wait_for("node-1 Ready", lambda: " Ready " in quick.tkctl("get", "node", "node-1").stdout)
        mark = len(seen)
        wait_for("a few probe periods", lambda: len(seen) > mark + 5)
    finally:
        stop.set()
        watcher.join(5)
    assert all(seen), "the pod was reported unready during the agent restart"
    assert _started_at(docker_client, quick, "steady") == before  # nothing restarted
    assert quick.json("get", "pod", "steady")["status"]["containerStatuses"][0]["restartCount"] == 0
    # The new agent probes: a failing readiness probe makes the pod unready.
    quick.tkctl("exec", "steady", "--", "rm", "/www/index.html")
    wait_for("steady unready", lambda: not ready())
