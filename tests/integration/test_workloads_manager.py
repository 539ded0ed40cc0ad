"""The workload controllers as the control plane runs them: ``default_loops`` in the Manager's
threads, woken by store changes, with a FAKE kubelet thread (no containers) marking pods Ready
and renewing its node's Lease (else the node lifecycle controller would fence the node)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from common import meta
from common.resources import must
from control.manager import Manager
from control.registry.registry import Registry
from tests.integration.appsfake import DEPLOYS, NODES, PODS, RSES, FakeKubelet, ready_node
from tests.integration.test_workloads import deployment

DEADLINE = 20.0
LEASES = must("leases")


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def running(app: Any) -> Iterator[Registry]:
    registry: Registry = app.extensions["tinykube"]["registry"]
    registry.create(NODES, "", ready_node())
    manager = Manager(registry)
    manager.start()
    kubelet = FakeKubelet(registry, meta.now)
    stop = threading.Event()
    lease = registry.create(LEASES, "kube-node-lease", {
        "metadata": {"name": "node-1"},
        "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40,
                 "renewTime": meta.micro_timestamp()},
    })[0]  # fmt: skip

    def beat() -> None:
        nonlocal lease
        renewed = time.monotonic()
        while not stop.wait(0.05):
            kubelet.sync()
            if time.monotonic() - renewed > 1.0:  # as an agent renews its Lease
                lease["spec"]["renewTime"] = meta.micro_timestamp()
                lease = registry.replace(LEASES, "kube-node-lease", "node-1", lease)
                renewed = time.monotonic()

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        stop.set()
        manager.shutdown()
        thread.join(5)


def test_default_loops_roll_out_scale_and_collect_a_deployment(running: Registry) -> None:
    reg = running
    reg.create(DEPLOYS, "default", deployment(replicas=3))

    def ready(n: int) -> bool:
        status = reg.get(DEPLOYS, "default", "web").get("status") or {}
        return status.get("availableReplicas") == n and status.get("updatedReplicas") == n

    wait_for(lambda: ready(3), "3 available replicas")
    reg.patch(DEPLOYS, "default", "web", {"spec": {"replicas": 5}},
              "application/merge-patch+json", sub="scale")  # fmt: skip
    wait_for(lambda: ready(5), "5 available replicas")
    reg.delete(DEPLOYS, "default", "web", {})
    wait_for(
        lambda: not reg.list(RSES, "default")["items"] and not reg.list(PODS, "default")["items"],
        "the ReplicaSet and pods collected",
    )
