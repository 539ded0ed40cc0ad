"""The pod garbage collector over the real registry and Redis, fed by the shared informers, with
an injected clock: a Node deleted while pods are bound to it gets them marked Failed
(DisruptionTarget) and force-deleted after the quarantine; pods on live nodes stay; a Node
registered again in time saves its pods; the periodic pass finds pods bound to a Node never seen
and terminated pods over the threshold; Node status writes and Lease renewals enqueue nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from common import errors
from common.controller import Controller
from common.resources import must
from control.controllers.podgc import GC_KEY, PodGarbageCollector
from control.informers import SharedInformers
from control.manager import default_loops
from control.registry.registry import Registry
from tests.integration.informerpump import drain, pump
from tests.integration.test_node_lifecycle import Clock, add_node, add_pod, renew

PODS, NODES = must("pods"), must("nodes")
Q = dt.timedelta(seconds=10)


class PodGC(PodGarbageCollector):
    """The collector with its informers, pumped by hand."""

    informers: SharedInformers

    def pump(self) -> list[str]:
        """Feed the caches; the keys the handlers enqueued, synced."""
        pump(self.informers)
        return drain(self)


def collector(app: Any, threshold: int = 12500) -> tuple[Registry, Clock, PodGC]:
    reg: Registry = app.extensions["tinykube"]["registry"]
    clock = Clock()
    informers = SharedInformers(reg)
    gc = PodGC(reg, informers, quarantine=Q, clock=clock, threshold=threshold)
    gc.informers = informers
    return reg, clock, gc


def pod_names(reg: Registry) -> set[str]:
    return {p["metadata"]["name"] for p in reg.list(PODS, "default")["items"]}


def test_pods_of_a_deleted_node_go_after_the_quarantine(app: Any) -> None:
    reg, clock, gc = collector(app)
    add_node(reg, "n1")
    add_node(reg, "n2")
    add_pod(reg, "a", "n1")
    add_pod(reg, "b", "n2")
    assert gc.pump() == []
    gc.gc()
    assert pod_names(reg) == {"a", "b"} and len(gc.queue) == 0
    reg.delete(NODES, "", "n1", {})
    clock.to(1)
    pump(gc.informers)
    assert gc.queue.get(0) == "n1"  # the Node's deletion enqueued its name, nothing else
    gc.queue.done("n1")
    assert len(gc.queue) == 0
    assert gc.check_node("n1") == pytest.approx(10.0)  # when to look again: the quarantine's end
    clock.to(10.9)
    assert gc.check_node("n1") == pytest.approx(0.1) and pod_names(reg) == {"a", "b"}
    seen: list[dict[str, Any]] = []
    real_delete = reg.delete

    def spy(rt: Any, ns: str, name: str, options: Any) -> Any:
        seen.append(reg.get(PODS, ns, name))
        return real_delete(rt, ns, name, options)

    reg.delete = spy  # type: ignore[method-assign]
    clock.to(11)
    assert gc.check_node("n1") is None
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
    gc.pump()
    reg.delete(NODES, "", "n1", {})
    assert gc.pump() == ["n1"]
    clock.to(5)
    reg.create(NODES, "", {"metadata": {"name": "n1"}})
    gc.pump()
    clock.to(20)
    assert gc.check_node("n1") is None and pod_names(reg) == {"a"}
    assert reg.get(PODS, "default", "a")["status"]["phase"] == "Running"


def test_a_pod_changed_since_the_cache_saw_it_is_retried_past_the_quarantine(app: Any) -> None:
    reg, clock, gc = collector(app)
    add_node(reg, "n1")
    add_pod(reg, "a", "n1")
    gc.pump()
    reg.delete(NODES, "", "n1", {})
    assert gc.pump() == ["n1"]
    pod = reg.get(PODS, "default", "a")
    pod["metadata"]["labels"] = {"changed": "yes"}  # the cache has not seen this yet
    reg.replace(PODS, "default", "a", pod)
    clock.to(10)
    with pytest.raises(errors.ConflictError):
        gc.check_node("n1")  # the worker retries it with back-off
    assert pod_names(reg) == {"a"}
    pump(gc.informers)
    assert gc.check_node("n1") is None and pod_names(reg) == set()  # no new quarantine


def test_the_periodic_pass_finds_nodes_never_seen_and_terminated_pods(app: Any) -> None:
    reg, clock, gc = collector(app, threshold=1)
    add_node(reg, "n1")
    add_pod(reg, "ghost-pod", "ghost")  # bound to a Node that was never there
    for name in ("done-1", "done-2"):
        add_pod(reg, name, "n1")
        pod = reg.get(PODS, "default", name)
        pod["status"]["phase"] = "Succeeded"
        reg.replace(PODS, "default", name, pod, sub="status")
    assert gc.pump() == []  # pods and Nodes coming enqueue nothing: the pass finds them
    gc.gc()
    assert pod_names(reg) == {"ghost-pod", "done-2"}  # the oldest terminated pod over 1 went
    assert gc.queue.get(0) == "ghost"
    gc.queue.done("ghost")
    assert gc.check_node("ghost") == pytest.approx(10.0)
    clock.to(10)
    assert gc.check_node("ghost") is None and pod_names(reg) == {"done-2"}


def test_the_pass_runs_every_period_from_its_own_key(app: Any) -> None:
    reg, _, gc = collector(app)
    add_node(reg, "n1")
    gc.pump()
    gc.period = 0.05
    assert gc.initial is not None
    for key in gc.initial():  # what a leadership term starts with
        gc.queue.add(key)
    assert drain(gc) == [GC_KEY]
    assert gc.queue.get(5) == GC_KEY  # back after the period
    gc.queue.done(GC_KEY)


def test_node_status_writes_and_lease_renewals_enqueue_nothing(app: Any) -> None:
    reg, clock, gc = collector(app)
    add_node(reg, "n1")
    add_pod(reg, "a", "n1")
    gc.pump()
    node = reg.get(NODES, "", "n1")
    node["status"]["conditions"][0]["lastHeartbeatTime"] = "2031-01-01T00:00:00Z"
    reg.replace(NODES, "", "n1", node, sub="status")
    clock.to(3)
    renew(reg, "n1", clock)
    pump(gc.informers)
    assert len(gc.queue) == 0 and gc.queue.idle()


def test_the_control_plane_runs_the_pod_gc_loop(app: Any) -> None:
    reg: Registry = app.extensions["tinykube"]["registry"]
    gcs = [loop for loop in default_loops(reg, None, 7) if isinstance(loop, PodGarbageCollector)]
    assert len(gcs) == 1 and gcs[0].threshold == 7
    assert isinstance(gcs[0], Controller)  # informers feed it
