"""The scheduler loop over the real registry and Redis: binds pending pods to Ready nodes, and
leaves an unschedulable pod Pending with PodScheduled=False and a FailedScheduling event."""

from __future__ import annotations

from typing import Any

from common.resources import must
from control.registry.registry import Registry
from control.scheduling import Scheduler

PODS, NODES, EVENTS = must("pods"), must("nodes"), must("events")


def node(name: str, ready: bool = True, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels},
        "status": {
            "allocatable": {"cpu": "2", "memory": "2Gi", "pods": "110"},
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


def test_binds_pending_pods_and_records_events(app: Any) -> None:
    reg = registry(app)
    reg.create(NODES, "", node("n1"))
    reg.create(NODES, "", node("n2", ready=False))
    reg.create(PODS, "default", pod("a"))
    assert Scheduler(reg).schedule_pending() == 1
    bound = reg.get(PODS, "default", "a")
    assert bound["spec"]["nodeName"] == "n1"
    scheduled = next(c for c in bound["status"]["conditions"] if c["type"] == "PodScheduled")
    assert scheduled["status"] == "True"
    events = reg.list(EVENTS, "default", field_selector="involvedObject.name=a")["items"]
    assert [(e["reason"], e["message"]) for e in events] == [
        ("Scheduled", "Successfully assigned default/a to n1")
    ]


def test_unschedulable_pod_stays_pending_with_reason(app: Any) -> None:
    reg = registry(app)
    reg.create(NODES, "", node("n1", disk="hdd"))
    reg.create(PODS, "default", pod("picky", disk="ssd"))
    scheduler = Scheduler(reg)
    assert scheduler.schedule_pending() == 0
    assert scheduler.schedule_pending() == 0  # same reason again: no second event
    stuck = reg.get(PODS, "default", "picky")
    assert "nodeName" not in stuck["spec"]
    assert stuck["status"]["phase"] == "Pending"
    cond = next(c for c in stuck["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["status"] == "False" and cond["reason"] == "Unschedulable"
    assert "1 node(s) didn't match Pod's node affinity/selector" in cond["message"]
    events = reg.list(EVENTS, "default", field_selector="involvedObject.name=picky")["items"]
    assert [e["reason"] for e in events] == ["FailedScheduling"]
    assert events[0]["type"] == "Warning"
    # A matching node appears: the pod is bound on the next pass.
    reg.create(NODES, "", node("n2", disk="ssd"))
    assert scheduler.schedule_pending() == 1
    assert reg.get(PODS, "default", "picky")["spec"]["nodeName"] == "n2"


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
