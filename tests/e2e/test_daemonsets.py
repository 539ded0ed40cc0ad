"""A DaemonSet on the shared two-agent cluster, on real Docker: a pod Running on each node, and
one more when a third agent joins with the cluster's join token; afterwards the DaemonSet, the
joined agent, its Node and its containers are removed so the cluster is as the other tests
expect it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, wait_for
from tests.e2e.test_join_tls import spawn, stop

JOINED = "node-3"
MANIFEST = """apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: node-logs
spec:
  selector:
    matchLabels: {app: node-logs}
  template:
    metadata:
      labels: {app: node-logs}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: tinykube/sleeper:1
"""


def running_on(cluster: Cluster) -> list[str]:
    pods = cluster.json("get", "pods", "-l", "app=node-logs")["items"]
    return sorted(
        p["spec"]["nodeName"]
        for p in pods
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    )


def ready(cluster: Cluster, name: str) -> bool:
    for node in cluster.json("get", "nodes")["items"]:
        conditions = {c["type"]: c["status"] for c in (node.get("status") or {}).get("conditions")
                      or []}  # fmt: skip
        if node["metadata"]["name"] == name and conditions.get("Ready") == "True":
            return True
    return False


class Joiner:
    """Starts a third agent on demand; ``remove`` takes away what the test added."""

    def __init__(self, cluster: Cluster, where: Path) -> None:
        self.cluster, self.where = cluster, where
        self.agent: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        data = self.cluster.data_dir
        self.agent = spawn([
            sys.executable, "-m", "agent", "--server", self.cluster.state()["server"],
            "--token-file", str(data / "server" / "node-token"),
            "--ca-file", str(data / "server" / "tls" / "server-ca.crt"),
            "--node-name", JOINED, "--data-dir", str(self.where / "agent"),
            "--node-ip", "127.0.0.1", "--node-api-port", "0",
        ], self.where / "agent.log")  # fmt: skip

    def remove(self) -> None:
        c = self.cluster
        c.tkctl("delete", "daemonset", "node-logs", "--ignore-not-found", check=False)
        gone = lambda: not c.json("get", "pods", "-l", "app=node-logs")["items"]  # noqa: E731
        wait_for("the daemon pods gone", gone, timeout=60)
        if self.agent is None:
            return
        stop(self.agent)
        c.tkctl("delete", "node", JOINED, "--ignore-not-found", check=False)
        names = lambda: {n["metadata"]["name"] for n in c.json("get", "nodes")["items"]}  # noqa: E731
        wait_for(f"{JOINED} gone", lambda: JOINED not in names(), timeout=30)
        c.tkctl("delete", "lease", JOINED, "-n", "kube-node-lease", "--ignore-not-found",
                check=False)  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "agent", "cleanup", "--cluster-id", c.cluster_id,
             "--root-dir", str(self.where / "agent")],
            capture_output=True, timeout=60, check=False, env=os.environ,
        )  # fmt: skip


@pytest.fixture
def joiner(cluster: Cluster, tmp_path: Path) -> Iterator[Joiner]:
    j = Joiner(cluster, tmp_path)
    try:
        yield j
    finally:
        j.remove()


def test_a_daemonset_gains_a_pod_when_an_agent_joins(cluster: Cluster, joiner: Joiner) -> None:
    cluster.tkctl("apply", "-f", "-", stdin=MANIFEST)
    wait_for("a daemon pod Running on each node",
             lambda: running_on(cluster) == ["node-1", "node-2"], timeout=90)  # fmt: skip
    joiner.start()
    wait_for(f"{JOINED} Ready", lambda: ready(cluster, JOINED), timeout=90)
    wait_for("a daemon pod on the joined node",
             lambda: running_on(cluster) == ["node-1", "node-2", JOINED], timeout=90)  # fmt: skip

    def rolled_out() -> bool:
        out = cluster.tkctl("rollout", "status", "ds/node-logs", "--watch=false").stdout
        return out == 'daemon set "node-logs" successfully rolled out\n'

    wait_for("the rollout", rolled_out, timeout=60)
    row = cluster.tkctl("get", "ds", "node-logs").stdout.splitlines()[1].split()
    assert row[:7] == ["node-logs", "3", "3", "3", "3", "3", "<none>"]
