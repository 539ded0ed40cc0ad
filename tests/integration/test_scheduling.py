"""The scheduler over the real registry and Redis: binds pending pods to Ready nodes, and leaves
an unschedulable pod Pending with PodScheduled=False and a FailedScheduling event until a cluster
event lets it fit; many pods on few nodes never over-commit one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from common import errors, metrics
from common.quantity import parse_cpu_millis
from common.resources import must
from control.informers import SharedInformers
from control.registry.registry import Registry
from control.scheduling import Scheduler
from tests.integration.schedpass import schedule_pending

PODS, NODES, EVENTS = must("pods"), must("nodes"), must("events")


def node(
    name: str,
    ready: bool = True,
    *,
    cpu: str = "2",
    memory: str = "2Gi",
    pods: str = "110",
    **labels: str,
) -> dict[str, Any]:
    """A node; one not Ready has the taints the node lifecycle controller gives it."""
    not_ready = "node.kubernetes.io/not-ready"
    taints = [{"key": not_ready, "effect": e} for e in ("NoSchedule", "NoExecute")]
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {} if ready else {"taints": taints},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pod(name: str, **selector: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"nodeSelector": selector, "containers": [{"name": "c", "image": "i:1"}]},
    }


def registry(app: Any) -> Registry:
    reg: Registry = app.extensions["tinykube"]["registry"]
    return reg


def wait_for(what: str, check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def running(app: Any) -> Iterator[Scheduler]:
    """The scheduler as the control plane runs it: shared informers and its loop in a thread."""
    reg = registry(app)
    informers = SharedInformers(reg)
    scheduler = Scheduler(reg, informers)
    stop = threading.Event()
    informers.start(stop)
    assert informers.wait_for_sync(stop, 10)
    thread = threading.Thread(target=scheduler.run, args=(stop,), daemon=True)
    thread.start()
    yield scheduler
    stop.set()
    thread.join(10)
    assert not thread.is_alive()


def test_binds_pending_pods_and_records_events(app: Any) -> None:
    reg = registry(app)
    reg.create(NODES, "", node("n1"))
    reg.create(NODES, "", node("n2", ready=False))
    reg.create(PODS, "default", pod("a"))
    assert schedule_pending(reg) == 1
    bound = reg.get(PODS, "default", "a")
    assert bound["spec"]["nodeName"] == "n1"
    scheduled = next(c for c in bound["status"]["conditions"] if c["type"] == "PodScheduled")
    assert scheduled["status"] == "True"
    events = reg.list(EVENTS, "default", field_selector="involvedObject.name=a")["items"]
    assert [(e["reason"], e["message"]) for e in events] == [
        ("Scheduled", "Successfully assigned default/a to n1")
    ]


def node_name(reg: Registry, name: str) -> str | None:
    spec: dict[str, Any] = reg.get(PODS, "default", name)["spec"]
    return spec.get("nodeName")


def reasons(reg: Registry, name: str) -> list[str]:
    events = reg.list(EVENTS, "default", field_selector=f"involvedObject.name={name}")["items"]
    return [e["reason"] for e in events]


def test_unschedulable_pod_stays_pending_with_reason(app: Any, running: Scheduler) -> None:
    reg = registry(app)
    reg.create(NODES, "", node("n1", disk="hdd"))
    wait_for("the node in the cache", lambda: running.cache.node_names() == ["n1"])
    reg.create(PODS, "default", pod("picky", disk="ssd"))
    wait_for("the event", lambda: reasons(reg, "picky") == ["FailedScheduling"])
    assert running.queue.where("default/picky") == "unschedulable"
    # The same reason again (the pod changed, so it is tried again): no second event.
    tried = running.attempts
    reg.patch(PODS, "default", "picky", {"metadata": {"labels": {"x": "y"}}},
              "application/merge-patch+json")  # fmt: skip
    wait_for("a second attempt", lambda: running.attempts > tried)
    wait_for("the report", lambda: running.wait_for_bindings(0.1))
    stuck = reg.get(PODS, "default", "picky")
    assert "nodeName" not in stuck["spec"]
    assert stuck["status"]["phase"] == "Pending"
    cond = next(c for c in stuck["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["status"] == "False" and cond["reason"] == "Unschedulable"
    assert "1 node(s) didn't match Pod's node affinity/selector" in cond["message"]
    events = reg.list(EVENTS, "default", field_selector="involvedObject.name=picky")["items"]
    assert [e["reason"] for e in events] == ["FailedScheduling"]
    assert events[0]["type"] == "Warning"
    # A matching node appears: the event moves the pod back and it is bound.
    reg.create(NODES, "", node("n2", disk="ssd"))
    wait_for("the bind", lambda: node_name(reg, "picky") == "n2")


def test_a_freed_node_takes_the_waiting_pod(app: Any, running: Scheduler) -> None:
    """A pod that fits nowhere waits (no retry loop) until an assigned pod is deleted."""
    reg = registry(app)
    reg.create(NODES, "", node("n1", pods="1"))
    reg.create(PODS, "default", pod("first"))
    wait_for("the first bind", lambda: node_name(reg, "first") == "n1")
    reg.create(PODS, "default", pod("second"))
    wait_for("the refusal", lambda: reasons(reg, "second") == ["FailedScheduling"])
    message = reg.list(EVENTS, "default", field_selector="involvedObject.name=second")["items"][0]
    assert message["message"].startswith("0/1 nodes are available: 1 Too many pods.")
    assert node_name(reg, "second") is None
    reg.delete(PODS, "default", "first", {"gracePeriodSeconds": 0})
    wait_for("the second bind", lambda: node_name(reg, "second") == "n1")


def test_many_pods_on_few_nodes_are_all_bound_within_capacity(app: Any, running: Scheduler) -> None:
    """300 pods created as fast as the registry takes them, on 20 nodes that hold 16 each: every
    pod is bound, none on a node already full (the assumed pods count before their binds land)."""
    reg = registry(app)
    for i in range(20):
        reg.create(NODES, "", node(f"n{i:02}", cpu="4", memory="8Gi", pods="16"))
    wait_for("the nodes in the cache", lambda: len(running.cache.node_names()) == 20)
    for i in range(300):
        body = pod(f"p{i:03}")
        body["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "250m"}}
        reg.create(PODS, "default", body)

    def bound() -> list[dict[str, Any]]:
        return [p for p in reg.list(PODS, "default")["items"] if p["spec"].get("nodeName")]

    wait_for("every bind", lambda: len(bound()) == 300, timeout=120)
    per_node: dict[str, list[int]] = {}
    for p in bound():
        cpu = parse_cpu_millis(p["spec"]["containers"][0]["resources"]["requests"]["cpu"])
        per_node.setdefault(p["spec"]["nodeName"], []).append(cpu)
    assert all(len(v) <= 16 and sum(v) <= 4000 for v in per_node.values()), per_node
    assert len(per_node) == 20  # the least allocated node wins: each takes some
    assert running.bound == 300
    assert running.queue.counts() == dict.fromkeys(
        ("active", "backoff", "unschedulable", "in-flight"), 0
    )


def test_gated_pods_wait_for_their_gates(app: Any, running: Scheduler) -> None:
    reg = registry(app)
    reg.create(NODES, "", node("n1"))
    body = pod("gated")
    body["spec"]["schedulingGates"] = [{"name": "example.com/wait"}]
    reg.create(PODS, "default", body)
    reg.create(PODS, "default", pod("free"))
    wait_for("the free pod", lambda: node_name(reg, "free") == "n1")
    assert node_name(reg, "gated") is None and running.queue.where("default/gated") is None
    reg.patch(PODS, "default", "gated", {"spec": {"schedulingGates": None}},
              "application/merge-patch+json")  # fmt: skip
    wait_for("the gated pod", lambda: node_name(reg, "gated") == "n1")


@pytest.fixture
def stepped(app: Any) -> Iterator[Scheduler]:
    """The scheduler on running informers, its cycles stepped by the test."""
    reg = registry(app)
    informers = SharedInformers(reg)
    scheduler = Scheduler(reg, informers)
    stop = threading.Event()
    informers.start(stop)
    assert informers.wait_for_sync(stop, 10)
    yield scheduler
    stop.set()


def test_a_failed_bind_is_forgotten_and_tried_again(
    app: Any, stepped: Scheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = registry(app)
    reg.create(NODES, "", node("n1", pods="1"))
    reg.create(PODS, "default", pod("a"))
    wait_for("both in the caches", lambda: stepped.queue.where("default/a") == "active")
    wait_for("the node", lambda: stepped.cache.node_names() == ["n1"])
    real_bind = reg.bind
    calls: list[str] = []

    def failing_bind(namespace: str, name: str, body: Any) -> Any:
        calls.append(name)
        if len(calls) == 1:
            raise errors.ServiceUnavailableError("the storage backend is unavailable")
        return real_bind(namespace, name, body)

    monkeypatch.setattr(reg, "bind", failing_bind)
    assert stepped.schedule_next(1)
    assert stepped.wait_for_bindings(10)
    assert calls == ["a"] and node_name(reg, "a") is None
    assert not stepped.cache.is_assumed("default/a") and stepped.cache.usage("n1").pods == 0
    assert stepped.queue.where("default/a") == "backoff"
    assert stepped.schedule_next(5)  # after its 1 s back-off
    assert stepped.wait_for_bindings(10)
    assert node_name(reg, "a") == "n1" and stepped.bound == 1
    wait_for("the confirmation", lambda: not stepped.cache.is_assumed("default/a"))
    assert stepped.cache.usage("n1").pods == 1


def test_a_cycle_that_raises_puts_the_pod_back(
    app: Any, stepped: Scheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = registry(app)
    reg.create(NODES, "", node("n1"))
    reg.create(PODS, "default", pod("a"))
    wait_for("the pod queued", lambda: stepped.queue.where("default/a") == "active")
    wait_for("the node", lambda: stepped.cache.node_names() == ["n1"])
    real_schedule = stepped.cache.schedule
    monkeypatch.setattr(stepped.cache, "schedule", lambda p: 1 / 0)
    assert stepped.schedule_next(1)
    assert stepped.queue.where("default/a") == "backoff"
    monkeypatch.setattr(stepped.cache, "schedule", real_schedule)
    assert stepped.schedule_next(5)
    assert stepped.wait_for_bindings(10)
    assert node_name(reg, "a") == "n1"


def test_the_unschedulable_condition_is_written_over_a_stale_cache(
    app: Any, stepped: Scheduler
) -> None:
    reg = registry(app)
    stale = reg.create(PODS, "default", pod("a"))[0]
    reg.patch(PODS, "default", "a", {"metadata": {"labels": {"x": "y"}}},
              "application/merge-patch+json")  # fmt: skip
    written = stepped._write_unschedulable(stale, "0/0 nodes are available")
    assert written is not None and written["metadata"]["labels"] == {"x": "y"}
    cond = next(c for c in written["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
    # Bound meanwhile (by someone else): no condition is written.
    reg.bind("default", "a", {"target": {"kind": "Node", "name": "elsewhere"}})
    assert stepped._write_unschedulable(stale, "0/0 nodes are available") is None
    reg.delete(PODS, "default", "a", {"gracePeriodSeconds": 0})
    assert stepped._write_unschedulable(stale, "0/0 nodes are available") is None


def test_expired_events_are_deleted(app: Any) -> None:
    import datetime as dt

    from control.controllers.eventttl import EventCollector
    from control.informers import SharedInformers
    from tests.integration.informerpump import drain, pump

    reg = registry(app)
    for name, stamp in (("old", "2000-01-01T00:00:00Z"), ("fresh", None)):
        body: dict[str, Any] = {
            "metadata": {"name": name},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "R",
            "message": "m",
            "type": "Normal",
        }
        if stamp:
            body["lastTimestamp"] = stamp
        reg.create(EVENTS, "default", body)
    informers = SharedInformers(reg)
    collector = EventCollector(reg, informers, ttl=dt.timedelta(hours=1))
    pump(informers)
    assert drain(collector) == ["default/old"]  # the fresh one waits for its hour
    left = [e["metadata"]["name"] for e in reg.list(EVENTS, "default")["items"]]
    assert left == ["fresh"]


def test_scheduling_is_counted_in_kube_schedulers_metrics(app: Any) -> None:
    def value(name: str, **labels: str) -> float:
        got = metrics.REGISTRY.get_sample_value(name, labels)
        return got or 0.0

    scheduled = value("scheduler_schedule_attempts_total", result="scheduled",
                      profile="default-scheduler")  # fmt: skip
    unschedulable = value("scheduler_schedule_attempts_total", result="unschedulable",
                          profile="default-scheduler")  # fmt: skip
    latencies = value("scheduler_pod_scheduling_duration_seconds_count", attempts="1")
    reg = registry(app)
    reg.create(NODES, "", node("n1"))
    reg.create(PODS, "default", pod("fits"))
    reg.create(PODS, "default", pod("nowhere", disk="ssd"))
    assert schedule_pending(reg) == 1
    assert value("scheduler_schedule_attempts_total", result="scheduled",
                 profile="default-scheduler") == scheduled + 1  # fmt: skip
    assert value("scheduler_schedule_attempts_total", result="unschedulable",
                 profile="default-scheduler") == unschedulable + 1  # fmt: skip
    assert value("scheduler_pod_scheduling_duration_seconds_count", attempts="1") == latencies + 1
