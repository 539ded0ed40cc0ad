"""The pod garbage collector over the real registry and Redis, with an injected clock: a Node
deleted while pods are bound to it gets them marked Failed (DisruptionTarget) and force-deleted
after the quarantine; pods on live nodes stay; a Node registered again in time saves its pods."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from common import errors
from common.resources import must
from control.controllers.podgc import PodGarbageCollector
from control.manager import default_loops
from control.registry.registry import Registry
from tests.integration.test_node_lifecycle import Clock, add_node, add_pod

PODS, NODES = must("pods"), must("nodes")
Q = dt.timedelta(seconds=10)


def collector(app: Any) -> tuple[Registry, Clock, PodGarbageCollector]:
    reg: Registry = app.extensions["tinykube"]["registry"]
    clock = Clock()
    return reg, clock, PodGarbageCollector(reg, quarantine=Q, clock=clock)


def pod_names(reg: Registry) -> set[str]:
    return {p["metadata"]["name"] for p in reg.list(PODS, "default")["items"]}


def test_pods_of_a_deleted_node_go_after_the_quarantine(app: Any) -> None:
    reg, clock, gc = collector(app)
    add_node(reg, "n1")
    add_node(reg, "n2")
    add_pod(reg, "a", "n1")
    add_pod(reg, "b", "n2")
    assert gc.sweep() is None and pod_names(reg) == {"a", "b"}
    reg.delete(NODES, "", "n1", {})
    clock.to(1)
    assert gc.sweep() == pytest.approx(10.0)  # when to look again: the quarantine's end
    clock.to(10.9)
    assert gc.sweep() == pytest.approx(0.1) and pod_names(reg) == {"a", "b"}
    seen: list[dict[str, Any]] = []
    real_delete = reg.delete

    def spy(rt: Any, ns: str, name: str, options: Any) -> Any:
        seen.append(reg.get(PODS, ns, name))
        return real_delete(rt, ns, name, options)

    reg.delete = spy  # type: ignore[method-assign]
    clock.to(11)
    assert gc.sweep() is None
    assert pod_names(reg) == {"b"}
    with pytest.raises(errors.NotFoundError):
        reg.get(PODS, "default", "a")
    # Just before it went, the pod said why: Failed, with the DisruptionTarget condition.
    (last,) = seen
    assert last["status"]["phase"] == "Failed"
    target = next(c for c in last["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["status"], target["reason"], target["message"]) == (
        "True", "DeletionByPodGC", "PodGC: node no longer exists")  # fmt: skip


def test_a_node_registered_again_in_time_keeps_its_pods(app: Any) -> None:
    reg, clock, gc = collector(app)
    add_node(reg, "n1")
    add_pod(reg, "a", "n1")
    reg.delete(NODES, "", "n1", {})
    gc.sweep()
    clock.to(5)
    reg.create(NODES, "", {"metadata": {"name": "n1"}})
    clock.to(20)
    assert gc.sweep() is None and pod_names(reg) == {"a"}
    assert reg.get(PODS, "default", "a")["status"]["phase"] == "Running"


def test_the_control_plane_runs_the_pod_gc_loop(app: Any) -> None:
    reg: Registry = app.extensions["tinykube"]["registry"]
    gcs = [loop for loop in default_loops(reg, None, 7) if isinstance(loop, PodGarbageCollector)]
    assert len(gcs) == 1 and gcs[0].threshold == 7 and gcs[0].watches == ("nodes",)
