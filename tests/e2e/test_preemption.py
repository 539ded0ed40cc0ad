"""Preemption on real Docker, on the session's two-node ``cluster``: a low-priority pod takes the
free cpu of one node, a high-priority pod pinned to that node preempts it (nominated node, the
victim stopped by its agent within its grace period), then runs there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from common.quantity import parse_cpu_millis
from tests.e2e.conftest import Cluster, wait_for

HOST = "kubernetes.io/hostname"
PODS = ("preempt-low", "preempt-high")
CLASSES = ("preempt-low", "preempt-high")


@pytest.fixture(scope="module", autouse=True)
def leave_nothing(cluster: Cluster) -> Iterator[None]:
    yield
    cluster.tkctl("delete", "pods", *PODS, "--ignore-not-found", check=False, timeout=120)
    cluster.tkctl("delete", "priorityclasses", *CLASSES, "--ignore-not-found", check=False)


def apply(cluster: Cluster, obj: dict[str, Any]) -> None:
    cluster.tkctl("apply", "-f", "-", stdin=json.dumps(obj))


def free_cpu(cluster: Cluster, node: dict[str, Any]) -> int:
    """Millicores of ``node`` no pod there requests."""
    name = node["metadata"]["name"]
    pods = cluster.json("get", "pods", "-A", "--field-selector", f"spec.nodeName={name}")
    used = sum(
        parse_cpu_millis(c.get("resources", {}).get("requests", {}).get("cpu", "0"))
        for p in pods["items"] if p["status"].get("phase") not in ("Succeeded", "Failed")
        for c in p["spec"]["containers"]
    )  # fmt: skip
    return parse_cpu_millis(node["status"]["allocatable"]["cpu"]) - used


def pinned_pod(name: str, node: str, cpu: int, cls: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {
            "priorityClassName": cls, "terminationGracePeriodSeconds": 2,
            "nodeSelector": {HOST: node},
            "containers": [{"name": "s", "image": "tinykube/sleeper:1",
                            "resources": {"requests": {"cpu": f"{cpu}m"}}}],
        },
    }  # fmt: skip


def test_a_high_priority_pod_preempts_a_low_one(cluster: Cluster) -> None:
    for name, value in zip(CLASSES, (10, 1000), strict=True):
        apply(cluster, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                        "metadata": {"name": name}, "value": value})  # fmt: skip
    node = cluster.json("get", "nodes")["items"][0]
    name = node["metadata"]["labels"][HOST]
    cpu = free_cpu(cluster, node)
    assert cpu > 0, "the node has no free cpu to fill"
    apply(cluster, pinned_pod("preempt-low", name, cpu, "preempt-low"))
    wait_for("the low pod running", lambda: cluster.json("get", "pod", "preempt-low")["status"]
             .get("phase") == "Running")  # fmt: skip
    apply(cluster, pinned_pod("preempt-high", name, cpu, "preempt-high"))
    high = wait_for("the nomination", lambda: (p := cluster.json("get", "pod", "preempt-high"))[
        "status"].get("nominatedNodeName") == node["metadata"]["name"] and p)  # fmt: skip
    assert high["spec"]["priority"] == 1000
    wait_for("the victim gone", lambda: cluster.tkctl(
        "get", "pod", "preempt-low", check=False).returncode != 0, timeout=90)  # fmt: skip

    def running_there() -> bool:
        p = cluster.json("get", "pod", "preempt-high")
        return bool(p["status"].get("phase") == "Running"
                    and p["spec"].get("nodeName") == node["metadata"]["name"])  # fmt: skip

    wait_for("the high pod running there", running_there, timeout=90)
    events = cluster.json("get", "events", "--field-selector", "involvedObject.name=preempt-low")
    assert any(e["reason"] == "Preempted" for e in events["items"])
