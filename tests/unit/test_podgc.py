"""The pod garbage collector's pure decisions: orphans only after the quarantine, unscheduled
terminating pods at once, terminated pods over the threshold oldest (and evicted) first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from control.controllers import podgc

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
Q = dt.timedelta(seconds=10)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def pod(name: str, node: str = "", phase: str = "Running", **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": meta.pop(
            "created", "2026-01-01T00:00:00Z"), **meta},
        "spec": {"nodeName": node} if node else {},
        "status": {"phase": phase},
    }  # fmt: skip


def names(pods: list[dict[str, Any]]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_a_pod_on_a_missing_node_goes_only_after_the_quarantine() -> None:
    pods = [pod("a", "gone"), pod("b", "here"), pod("c")]
    first = podgc.plan(pods, ["here"], {}, at(0), quarantine=Q)
    assert first.orphaned == [] and first.missing == {"gone": at(0)}
    early = podgc.plan(pods, ["here"], first.missing, at(9), quarantine=Q)
    assert early.orphaned == [] and early.missing == {"gone": at(0)}
    late = podgc.plan(pods, ["here"], early.missing, at(10), quarantine=Q)
    assert names(late.orphaned) == ["a"]


def test_a_node_that_reappears_leaves_the_quarantine() -> None:
    pods = [pod("a", "flaky")]
    first = podgc.plan(pods, [], {}, at(0), quarantine=Q)
    back = podgc.plan(pods, ["flaky"], first.missing, at(5), quarantine=Q)
    assert back.missing == {}
    # Missing again later: the quarantine starts over.
    again = podgc.plan(pods, [], back.missing, at(12), quarantine=Q)
    assert again.orphaned == [] and again.missing == {"flaky": at(12)}


def test_terminating_pods_never_scheduled_go_at_once() -> None:
    pods = [pod("t", deletionTimestamp="2026-01-01T00:00:00Z"), pod("p"),
            pod("bound", "n1", deletionTimestamp="2026-01-01T00:00:00Z")]  # fmt: skip
    p = podgc.plan(pods, ["n1"], {}, at(0))
    assert names(p.unscheduled) == ["t"] and p.orphaned == [] and p.terminated == []


def test_terminated_pods_over_the_threshold_go_evicted_then_oldest_first() -> None:
    pods = [
        pod("new", "n1", "Succeeded", created="2026-01-01T00:00:03Z"),
        pod("old", "n1", "Failed", created="2026-01-01T00:00:01Z"),
        pod("mid", "n1", "Succeeded", created="2026-01-01T00:00:02Z"),
        pod("evicted", "n1", "Failed", created="2026-01-01T00:00:09Z"),
        pod("running", "n1", "Running", created="2026-01-01T00:00:00Z"),
    ]
    pods[3]["status"]["reason"] = "Evicted"
    assert names(podgc.plan(pods, ["n1"], {}, at(0), threshold=2).terminated) == [
        "evicted", "old"]  # fmt: skip
    assert podgc.plan(pods, ["n1"], {}, at(0), threshold=4).terminated == []
    assert podgc.plan(pods, ["n1"], {}, at(0), threshold=0).terminated == []  # 0: keep all


def test_failed_status_sets_the_phase_and_the_condition_once() -> None:
    running = pod("a", "gone")
    running["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "False"},
                                       {"type": "Ready", "status": "True"}]  # fmt: skip
    failed = podgc.failed_status(running, podgc.ORPHAN_CONDITION, at(1))
    assert failed is not None and failed["status"]["phase"] == "Failed"
    targets = [c for c in failed["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert targets == [{**podgc.ORPHAN_CONDITION, "lastTransitionTime": "2026-01-01T00:00:01Z"}]
    assert running["status"]["phase"] == "Running"  # the input is not changed
    assert podgc.failed_status(pod("b", "gone", "Succeeded"), None, at(1)) is None
