"""The asynchronous event recorder over the real registry and Redis: events queued by a component
are written by the recorder's own threads (waited for with ``wait``), and an event beyond the
queue's bound is dropped without failing its caller, as client-go's broadcaster drops it."""

from __future__ import annotations

import threading
from typing import Any

from common.resources import must
from control import events
from control.registry.registry import Registry

EVENTS, PODS = must("events"), must("pods")
TIMEOUT = 10.0


def _registry(app: Any) -> Registry:
    reg: Registry = app.extensions["tinykube"]["registry"]
    return reg


def _pod(name: str) -> dict[str, Any]:
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"}}  # fmt: skip


def _reasons(reg: Registry) -> list[tuple[str, str]]:
    found = reg.list(EVENTS, "default")["items"]
    return sorted((e["reason"], e["involvedObject"]["name"]) for e in found)


def test_queued_events_are_written(app: Any) -> None:
    reg = _registry(app)
    recorder = events.Recorder(reg, "default-scheduler")
    recorder.record(_pod("a"), "Normal", "Scheduled", "Successfully assigned default/a to n1")
    recorder.record(_pod("b"), "Warning", "FailedScheduling", "0/1 nodes are available")
    assert recorder.wait(TIMEOUT)
    assert _reasons(reg) == [("FailedScheduling", "b"), ("Scheduled", "a")]
    written = {e["reason"]: e for e in reg.list(EVENTS, "default")["items"]}
    assert written["Scheduled"]["source"] == {"component": "default-scheduler"}
    assert written["Scheduled"]["message"] == "Successfully assigned default/a to n1"


def test_an_event_beyond_the_bound_is_dropped(app: Any) -> None:
    reg = _registry(app)
    gate = threading.Event()
    original = reg.create

    def held(rt: Any, namespace: str, obj: Any, **kw: Any) -> Any:
        gate.wait(TIMEOUT)  # the writer is busy: what comes next stays queued
        return original(rt, namespace, obj, **kw)

    reg.create = held  # type: ignore[method-assign]
    recorder = events.Recorder(reg, "default-scheduler", writers=1, max_queued=1)
    try:
        recorder.record(_pod("a"), "Normal", "Scheduled", "a")  # taken by the writer
        while not recorder._queue.empty():
            threading.Event().wait(0.01)
        recorder.record(_pod("b"), "Normal", "Scheduled", "b")  # queued
        recorder.record(_pod("c"), "Normal", "Scheduled", "c")  # beyond the bound
        assert recorder.dropped == 1
    finally:
        gate.set()
    assert recorder.wait(TIMEOUT)
    assert _reasons(reg) == [("Scheduled", "a"), ("Scheduled", "b")]


def test_a_refused_event_does_not_stop_the_writer(app: Any) -> None:
    reg = _registry(app)
    recorder = events.Recorder(reg, "default-scheduler", writers=1)
    bad = _pod("x")
    bad["metadata"]["namespace"] = "no-such-namespace"  # refused: the namespace does not exist
    recorder.record(bad, "Normal", "Scheduled", "x")
    recorder.record(_pod("y"), "Normal", "Scheduled", "y")
    assert recorder.wait(TIMEOUT)
    assert _reasons(reg) == [("Scheduled", "y")]
