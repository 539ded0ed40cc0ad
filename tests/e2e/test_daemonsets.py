"""A DaemonSet on real Docker: the shared two-agent cluster grows to three agents, the DaemonSet
has a pod Running on each, and one more when a fourth agent joins with the cluster's join token;
a cordoned node gets its daemon pod back, an ordinary pod stays Pending. Afterwards the
DaemonSet, the joined agents, their Nodes and their containers are removed so the cluster is as
the other tests expect it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, assert_nothing_mounted, wait_for
from tests.e2e.test_join_tls import spawn, stop

THIRD, FOURTH = "node-3", "node-4"
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
PINNED = f"""apiVersion: v1
kind: Pod
metadata:
  name: pinned
spec:
  nodeSelector: {{kubernetes.io/hostname: {FOURTH}}}
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
    """Starts more agents on demand; ``remove`` takes away what the test added."""

    def __init__(self, cluster: Cluster, where: Path) -> None:
        self.cluster, self.where = cluster, where
        self.agents: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        data = self.cluster.data_dir
        self.agents[name] = spawn([
            sys.executable, "-m", "agent", "--server", self.cluster.state()["server"],
            "--token-file", str(data / "server" / "node-token"),
            "--ca-file", str(data / "server" / "tls" / "server-ca.crt"),
            "--node-name", name, "--data-dir", str(self.where / name),
            "--node-ip", "127.0.0.1", "--node-api-port", "0",
        ], self.where / f"{name}.log")  # fmt: skip

    def remove(self) -> None:
        c = self.cluster
        c.tkctl("delete", "pod", "pinned", "--ignore-not-found", "--grace-period=0", check=False)
        c.tkctl("delete", "daemonset", "node-logs", "--ignore-not-found", check=False)
        gone = lambda: not c.json("get", "pods", "-l", "app=node-logs")["items"]  # noqa: E731
        wait_for("the daemon pods gone", gone, timeout=60)
        for name, agent in self.agents.items():
            stop(agent)
            c.tkctl("delete", "node", name, "--ignore-not-found", check=False)
        names = lambda: {n["metadata"]["name"] for n in c.json("get", "nodes")["items"]}  # noqa: E731
        wait_for("the joined nodes gone", lambda: not names() & set(self.agents), timeout=30)
        for name in self.agents:
            c.tkctl("delete", "lease", name, "-n", "kube-node-lease", "--ignore-not-found",
                    check=False)  # fmt: skip
            subprocess.run(
                [sys.executable, "-m", "agent", "cleanup", "--cluster-id", c.cluster_id,
                 "--node-name", name, "--root-dir", str(self.where / name)],
                capture_output=True, timeout=60, check=False, env=os.environ,
            )  # fmt: skip
            assert_nothing_mounted(self.where / name)


@pytest.fixture
def joiner(cluster: Cluster, tmp_path: Path) -> Iterator[Joiner]:
    j = Joiner(cluster, tmp_path)
    try:
        yield j
    finally:
        j.remove()


def rolled_out(cluster: Cluster) -> bool:
    out = cluster.tkctl("rollout", "status", "ds/node-logs", "--watch=false").stdout
    return out == 'daemon set "node-logs" successfully rolled out\n'


def test_a_daemonset_gains_a_pod_when_an_agent_joins(cluster: Cluster, joiner: Joiner) -> None:
    joiner.start(THIRD)
    wait_for(f"{THIRD} Ready", lambda: ready(cluster, THIRD), timeout=90)
    cluster.tkctl("apply", "-f", "-", stdin=MANIFEST)
    three = ["node-1", "node-2", THIRD]
    wait_for("a daemon pod Running on each of 3 nodes", lambda: running_on(cluster) == three,
             timeout=90)  # fmt: skip
    joiner.start(FOURTH)
    wait_for(f"{FOURTH} Ready", lambda: ready(cluster, FOURTH), timeout=90)
    wait_for("a daemon pod on the joined node",
             lambda: running_on(cluster) == [*three, FOURTH], timeout=90)  # fmt: skip
    wait_for("the rollout", lambda: rolled_out(cluster), timeout=60)
    row = cluster.tkctl("get", "ds", "node-logs").stdout.splitlines()[1].split()
    assert row[:7] == ["node-logs", "4", "4", "4", "4", "4", "<none>"]

    # Cordoned, a node gets its daemon pod back (it tolerates the cordon) and no other pod.
    cluster.tkctl("cordon", FOURTH)
    [daemon] = [p["metadata"]["name"]
                for p in cluster.json("get", "pods", "-l", "app=node-logs")["items"]
                if p["spec"]["nodeName"] == FOURTH]  # fmt: skip
    cluster.tkctl("apply", "-f", "-", stdin=PINNED)
    cluster.tkctl("delete", "pod", daemon, "--wait=false")
    wait_for("the daemon pod back on the cordoned node",
             lambda: running_on(cluster) == [*three, FOURTH] and daemon not in names(cluster),
             timeout=90)  # fmt: skip

    def unschedulable() -> str:
        pod = cluster.json("get", "pod", "pinned")
        found = [c for c in pod["status"].get("conditions") or [] if c["type"] == "PodScheduled"]
        return str(found[0].get("message", "")) if found else ""

    message = wait_for("the pinned pod refused", unschedulable, timeout=30)
    assert "1 node(s) were unschedulable" in message, message
    assert not cluster.json("get", "pod", "pinned")["spec"].get("nodeName")


def names(cluster: Cluster) -> set[str]:
    return {
        p["metadata"]["name"] for p in cluster.json("get", "pods", "-l", "app=node-logs")["items"]
    }
