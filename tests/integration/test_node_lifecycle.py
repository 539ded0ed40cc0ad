"""The node lifecycle loop over the real registry and Redis, with an injected clock: a node whose
Lease stops being renewed becomes Unknown and tainted, its pods are marked not Ready and then
force-deleted; nothing is evicted while most nodes are down or before a restarted controller has
waited a full grace period; a node that renews again loses its taints."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from common import errors
from common.resources import must
from control.controllers import nodehealth as nh
from control.controllers.nodelifecycle import LEASE_NAMESPACE, NodeLifecycleController
from control.manager import default_loops
from control.registry.registry import Registry
from tests.integration.schedpass import schedule_pending

PODS, NODES, LEASES, EVENTS = must("pods"), must("nodes"), must("leases"), must("events")
T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
CFG = nh.Config(grace_period=10, eviction_timeout=5, eviction_rate=0.1)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def to(self, seconds: float) -> None:
        self.now = T0 + dt.timedelta(seconds=seconds)


def micro(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def add_node(reg: Registry, name: str) -> None:
    reg.create(NODES, "", {"metadata": {"name": name}})
    node = reg.get(NODES, "", name)
    node["status"] = {
        "allocatable": {"cpu": "2", "memory": "2Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "lastHeartbeatTime": "2030-01-01T00:00:00Z"}],
    }  # fmt: skip
    reg.replace(NODES, "", name, node, sub="status")
    reg.create(LEASES, LEASE_NAMESPACE, {"metadata": {"name": name},
                                         "spec": {"holderIdentity": name,
                                                  "renewTime": micro(T0)}})  # fmt: skip


def renew(reg: Registry, name: str, clock: Clock) -> None:
    lease = reg.get(LEASES, LEASE_NAMESPACE, name)
    lease["spec"]["renewTime"] = micro(clock.now)
    reg.replace(LEASES, LEASE_NAMESPACE, name, lease)


def new_pod(reg: Registry, name: str) -> None:
    spec = {"containers": [{"name": "c", "image": "i:1"}]}
    reg.create(PODS, "default", {"metadata": {"name": name}, "spec": spec})


def add_pod(reg: Registry, name: str, node: str) -> None:
    new_pod(reg, name)
    reg.bind("default", name, {"target": {"name": node}})
    pod = reg.get(PODS, "default", name)
    pod["status"]["phase"] = "Running"
    pod["status"]["conditions"].append({"type": "Ready", "status": "True"})
    reg.replace(PODS, "default", name, pod, sub="status")


def cluster(app: Any, nodes: int = 3) -> tuple[Registry, Clock, NodeLifecycleController]:
    reg: Registry = app.extensions["tinykube"]["registry"]
    for i in range(1, nodes + 1):
        add_node(reg, f"n{i}")
    clock = Clock()
    return reg, clock, NodeLifecycleController(reg, CFG, clock=clock)


def ready(reg: Registry, kind: Any, name: str, ns: str = "") -> str:
    obj = reg.get(kind, ns, name)
    return next(c["status"] for c in obj["status"]["conditions"] if c["type"] == "Ready")


def taints(reg: Registry, name: str) -> list[tuple[str, str]]:
    return [(t["key"], t["effect"]) for t in reg.get(NODES, "", name)["spec"].get("taints") or []]


def reasons(reg: Registry, name: str) -> list[str]:
    listing = reg.list(EVENTS, "default", field_selector=f"involvedObject.name={name}")
    return [e["reason"] for e in listing["items"]]


def test_a_silent_node_is_marked_tainted_and_its_pods_are_evicted(app: Any) -> None:
    reg, clock, ctl = cluster(app)
    add_pod(reg, "a", "n3")
    add_pod(reg, "b", "n3")
    add_pod(reg, "c", "n1")
    assert ctl.monitor().nodes_written == []
    for t in (4, 8):  # n1 and n2 keep renewing; n3 went silent at 0
        clock.to(t)
        renew(reg, "n1", clock)
        renew(reg, "n2", clock)
        assert ctl.monitor().nodes_written == []
    clock.to(10.5)
    result = ctl.monitor()
    assert result.nodes_written == ["n3"]
    assert sorted(result.pods_marked) == ["default/a", "default/b"]
    assert ready(reg, NODES, "n3") == "Unknown" and ready(reg, NODES, "n1") == "True"
    assert taints(reg, "n3") == [(nh.UNREACHABLE_TAINT, "NoSchedule"),
                                 (nh.UNREACHABLE_TAINT, "NoExecute")]  # fmt: skip
    assert ready(reg, PODS, "a", "default") == "False"
    assert ready(reg, PODS, "c", "default") == "True"
    assert reasons(reg, "n3") == ["NodeNotReady"]
    assert reasons(reg, "a") == ["NodeNotReady"]
    # The scheduler keeps new pods off the tainted node.
    new_pod(reg, "new")
    assert schedule_pending(reg) == 1
    assert reg.get(PODS, "default", "new")["spec"]["nodeName"] != "n3"
    clock.to(14.9)  # timeAdded is in whole seconds, as Kubernetes writes it: 10 s
    assert ctl.monitor().evicted == []
    clock.to(15)
    assert sorted(ctl.monitor().evicted) == ["default/a", "default/b"]
    for name in ("a", "b"):
        with pytest.raises(errors.NotFoundError):
            reg.get(PODS, "default", name)
        assert reasons(reg, name) == ["NodeNotReady", "TaintManagerEviction"]
    assert reg.get(PODS, "default", "c")["spec"]["nodeName"] == "n1"
    # n3 comes back: its taints go; its agent posts Ready=True itself.
    clock.to(17)
    for name in ("n1", "n2", "n3"):
        renew(reg, name, clock)
    assert ctl.monitor().nodes_written == ["n3"]
    assert taints(reg, "n3") == []


def test_nothing_is_evicted_while_most_nodes_are_silent(app: Any) -> None:
    reg, clock, ctl = cluster(app)
    add_pod(reg, "a", "n2")
    add_pod(reg, "b", "n3")
    ctl.monitor()
    for t in (5, 10, 30, 60):
        clock.to(t)
        renew(reg, "n1", clock)
        result = ctl.monitor()
    assert result.suspended and result.evicted == []
    assert ready(reg, NODES, "n2") == "Unknown" and ready(reg, NODES, "n3") == "Unknown"
    assert {p["metadata"]["name"] for p in reg.list(PODS, "default")["items"]} == {"a", "b"}
    # One of them returns: one of three down is no longer a majority; the other's pods go once
    # a full eviction timeout has passed since then (the disruption does not count).
    clock.to(61)
    renew(reg, "n1", clock)
    renew(reg, "n2", clock)
    result = ctl.monitor()
    assert not result.suspended and result.evicted == []
    for t in (63, 65.9):
        clock.to(t)
        renew(reg, "n1", clock)
        renew(reg, "n2", clock)
        assert ctl.monitor().evicted == []
    clock.to(66)
    renew(reg, "n1", clock)
    renew(reg, "n2", clock)
    assert ctl.monitor().evicted == ["default/b"]


def test_a_restarted_controller_gives_every_node_a_full_grace_period(app: Any) -> None:
    reg, clock, ctl = cluster(app)
    add_pod(reg, "a", "n1")
    clock.to(600)  # the control plane was down for ten minutes: no lease was renewed
    ctl.reset()
    assert ctl.monitor().nodes_written == []
    clock.to(605)
    for name in ("n1", "n2"):
        renew(reg, name, clock)
    assert ctl.monitor().nodes_written == []
    clock.to(610.5)
    assert ctl.monitor().nodes_written == ["n3"]  # only the node that stayed silent
    assert ready(reg, NODES, "n1") == "True"


def test_the_control_plane_runs_the_node_lifecycle_loop(app: Any) -> None:
    reg: Registry = app.extensions["tinykube"]["registry"]
    loops = default_loops(reg, CFG)
    lifecycle = [loop for loop in loops if isinstance(loop, NodeLifecycleController)]
    assert len(lifecycle) == 1 and lifecycle[0].config == CFG
