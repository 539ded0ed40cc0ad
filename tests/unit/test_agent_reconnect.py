"""Reconnecting after a gap: the detector fires on the renewal that ends a gap or a run of
failures, and the agent's relist then wins over older watch events still in the stream."""

from __future__ import annotations

from typing import Any

import pytest

from agent.config import AgentConfig
from agent.fake_runtime import FakeRuntime
from agent.loop import Agent
from agent.reconnect import ReconnectDetector


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_renewal_after_a_long_gap_or_after_failures_reports_a_reconnect() -> None:
    clock, calls = Clock(), []
    detector = ReconnectDetector(2.0, lambda: calls.append(clock.t), clock)
    ok = detector.wrap(lambda: "renewed")
    for t in (100, 102, 104.5, 109.4):  # on time, or late by less than two intervals + 1 s
        clock.t = t
        assert ok() == "renewed"
    assert calls == []
    clock.t = 125.0  # the process was stopped for 15 s
    ok()
    assert calls == [125.0]

    def unreachable() -> str:
        raise ConnectionError("no route to host")

    failing = detector.wrap(unreachable)
    clock.t = 126.0
    with pytest.raises(ConnectionError):
        failing()
    clock.t = 127.0
    ok()
    assert calls == [125.0, 127.0]
    clock.t = 128.0
    ok()
    assert detector.reconnects == 2


def test_a_longer_interval_handed_out_is_no_gap() -> None:
    clock, calls = Clock(), []
    detector = ReconnectDetector(2.0, lambda: calls.append(clock.t), clock)
    ok = detector.wrap(lambda: "renewed")
    ok()
    detector.set_interval(20.0)  # the server now wants a renewal every 20 s
    clock.t += 20.0
    ok()
    clock.t += 40.0  # two renewals missed, within the slack
    ok()
    assert calls == []
    clock.t += 41.5
    ok()
    assert len(calls) == 1


class ListingClient:
    def __init__(self, items: list[dict[str, Any]], rv: str) -> None:
        self.items, self.rv = items, rv

    def list(self, rt_: Any, namespace: Any = None, **kw: Any) -> dict[str, Any]:
        return {"metadata": {"resourceVersion": self.rv}, "items": self.items}


def pod(uid: str, rv: int) -> dict[str, Any]:
    return {
        "metadata": {"name": uid, "namespace": "default", "uid": uid, "resourceVersion": str(rv)},
        "spec": {"nodeName": "node-1"},
    }


def test_watch_events_older_than_the_relist_do_not_bring_a_deleted_pod_back() -> None:
    client = ListingClient([pod("kept", 30)], "50")
    agent = Agent(AgentConfig("http://x", "t", "node-1"), client, FakeRuntime())  # type: ignore[arg-type]
    agent.pods = {"kept": pod("kept", 30), "evicted": pod("evicted", 40)}
    agent.relist()  # after reconnecting: "evicted" was force-deleted at revision 48
    assert set(agent.pods) == {"kept"}
    # The old stream still carries a change made before the list, then the deletion.
    agent._on_pod_event({"type": "MODIFIED", "object": pod("evicted", 45)})
    agent._on_pod_event({"type": "DELETED", "object": pod("evicted", 48)})
    assert set(agent.pods) == {"kept"}
    agent._on_pod_event({"type": "ADDED", "object": pod("new", 51)})
    assert set(agent.pods) == {"kept", "new"}
