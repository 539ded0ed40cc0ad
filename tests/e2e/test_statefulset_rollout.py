"""A StatefulSet's RollingUpdate whose controller process is killed with SIGKILL in the middle:
the restarted controller finishes the rollout with exactly its three ordinals, each replaced
once, every pod at the update revision. A watch records every pod the API ever holds, so a
pod made twice or a stray name fails the test. Shares the session's two-agent ``cluster``."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from common import errors
from common.client import WatchCancel
from common.resources import must
from tests.e2e.conftest import Cluster, wait_for
from tests.e2e.test_deployments import release  # noqa: F401  (the web:2 tag, a fixture)
from tests.e2e.test_jobs import controller_process
from tests.e2e.test_process_faults import client_of

NS = "sts-roll-e2e"
PODS = must("pods")
REVISION = "controller-revision-hash"

MANIFEST = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: Service
metadata: {{name: roll, namespace: {NS}}}
spec:
  clusterIP: None
  selector: {{app: roll}}
  ports: [{{name: web, port: 80}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: roll, namespace: {NS}}}
spec:
  serviceName: roll
  replicas: 3
  selector: {{matchLabels: {{app: roll}}}}
  template:
    metadata: {{labels: {{app: roll}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: web
        image: tinykube/web:1
        # Ready a little after it starts, so that the rollout is still going when the
        # controller is killed.
        readinessProbe:
          httpGet: {{path: /, port: 80}}
          initialDelaySeconds: 2
          periodSeconds: 1
"""


class PodHistory:
    """Every pod of the namespace the API server reports, by name: the uids each name had."""

    def __init__(self, cluster: Cluster) -> None:
        self.client = client_of(cluster)
        self.cancel = WatchCancel()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.uids: dict[str, list[str]] = {}
        self.most_at_once = 0
        self.live: set[str] = set()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                self.live.clear()  # a new watch lists every pod again
            try:
                for event in self.client.watch(PODS, NS, cancel=self.cancel):
                    self.record(event["type"], event["object"])
            except errors.ApiError:
                pass

    def record(self, kind: str, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        name, uid = meta.get("name", ""), meta.get("uid", "")
        if not uid:
            return  # a bookmark
        with self.lock:
            if kind == "DELETED":
                self.live.discard(uid)
                return
            seen = self.uids.setdefault(name, [])
            if uid not in seen:
                seen.append(uid)
            self.live.add(uid)
            self.most_at_once = max(self.most_at_once, len(self.live))

    def replaced(self) -> list[str]:
        """The names that already had a second pod."""
        with self.lock:
            return sorted(n for n, uids in self.uids.items() if len(uids) > 1)

    def end(self) -> None:
        self.stop.set()
        self.cancel.fire()
        self.thread.join(timeout=10)
        self.client.close()


@pytest.fixture
def history(cluster: Cluster) -> Iterator[PodHistory]:
    cluster.tkctl("apply", "-f", "-", stdin=MANIFEST)
    h = PodHistory(cluster)
    h.thread.start()
    yield h
    h.end()
    cluster.tkctl("delete", "namespace", NS, "--wait=false", check=False)


def rollout_status(cluster: Cluster) -> str:
    out = cluster.tkctl("rollout", "status", "statefulset/roll", "-n", NS, "--timeout=180s",
                        timeout=240)  # fmt: skip
    return out.stdout


def test_a_killed_controller_process_finishes_a_statefulset_rollout_without_extra_pods(
    cluster: Cluster,
    history: PodHistory,
    release: str,  # noqa: F811  (the fixture imported above)
) -> None:
    rollout_status(cluster)
    first = cluster.json("get", "statefulset", "roll", "-n", NS)["status"]
    old_revision = first["currentRevision"]
    assert history.replaced() == []

    cluster.tkctl("set", "image", "statefulset/roll", f"web={release}", "-n", NS)
    # The highest ordinal goes first: kill the controllers as soon as its new pod exists.
    wait_for("roll-2 replaced", lambda: history.replaced() == ["roll-2"], timeout=120)
    victim = controller_process(cluster)
    os.kill(victim, signal.SIGKILL)
    wait_for("a new controller process",
             lambda: controller_process(cluster) != victim, timeout=60)  # fmt: skip

    assert "roll out complete" in rollout_status(cluster)

    def converged() -> dict[str, Any] | None:
        status: dict[str, Any] = cluster.json("get", "statefulset", "roll", "-n", NS)["status"]
        done = status.get("currentRevision") == status.get("updateRevision") != old_revision
        counts = (status.get("updatedReplicas"), status.get("readyReplicas"))
        return status if done and counts == (3, 3) else None

    status = wait_for("the status at the update revision", converged, timeout=60)
    pods = cluster.json("get", "pods", "-n", NS, "-l", "app=roll")["items"]
    assert sorted(p["metadata"]["name"] for p in pods) == ["roll-0", "roll-1", "roll-2"]
    for pod in pods:
        assert pod["metadata"]["labels"][REVISION] == status["updateRevision"]
        assert pod["spec"]["containers"][0]["image"] == release
    with history.lock:
        uids = {name: len(seen) for name, seen in history.uids.items()}
        most = history.most_at_once
    # Each ordinal replaced exactly once (its old pod and its new one), no other name, and
    # never a fourth pod beside the three.
    assert uids == {"roll-0": 2, "roll-1": 2, "roll-2": 2}, uids
    assert most <= 3, most
