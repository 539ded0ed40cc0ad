"""Which pods the scheduler queues, and which node updates may let an unschedulable pod fit."""

from __future__ import annotations

from typing import Any

import pytest

from control.scheduling import node_changed, pending
from tests.unit.test_scheduler import node, pod


def with_spec(**spec: Any) -> dict[str, Any]:
    p = pod()
    p["spec"].update(spec)
    return p


@pytest.mark.parametrize(
    ("obj", "queued"),
    [
        (pod(), True),
        (with_spec(schedulerName="default-scheduler"), True),
        (with_spec(schedulerName="other-scheduler"), False),
        (with_spec(nodeName="n1"), False),
        (with_spec(schedulingGates=[{"name": "example.com/gate"}]), False),
        (with_spec(schedulingGates=[]), True),
        ({**pod(), "status": {"phase": "Failed"}}, False),
        ({**pod(), "metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z"}}, False),
    ],
)
def test_pending(obj: dict[str, Any], queued: bool) -> None:
    assert pending(obj) is queued


def changed(**kw: Any) -> dict[str, Any]:
    return node("a", **kw)


@pytest.mark.parametrize(
    ("new", "moves"),
    [
        (changed(), False),
        (changed(cpu="4"), True),
        (changed(labels={"disk": "ssd"}), True),
        (changed(taints=[{"key": "k", "effect": "NoSchedule"}]), True),
        (changed(unschedulable=True), True),
        (changed(ready=False), True),
    ],
)
def test_node_changes_that_may_let_pods_fit(new: dict[str, Any], moves: bool) -> None:
    old = changed()
    heartbeat = changed()
    heartbeat["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-12-05T00:00:00Z"
    assert not node_changed(old, heartbeat)
    assert node_changed(old, new) is moves
