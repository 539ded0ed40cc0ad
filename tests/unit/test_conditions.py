"""Conditions as every Kubernetes SetCondition keeps them: the transition time moves only with
the status."""

from __future__ import annotations

from common import conditions

T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"


def test_the_transition_time_moves_only_with_the_status() -> None:
    first = conditions.build("Ready", "False", T1, "Starting")
    assert first == {"type": "Ready", "status": "False", "lastTransitionTime": T1,
                     "reason": "Starting"}  # fmt: skip
    same = conditions.build("Ready", "False", T2, "StillStarting", previous=first)
    assert same["lastTransitionTime"] == T1 and same["reason"] == "StillStarting"
    flipped = conditions.build("Ready", "True", T2, previous=same, lastHeartbeatTime=T2)
    assert flipped == {"type": "Ready", "status": "True", "lastHeartbeatTime": T2,
                       "lastTransitionTime": T2}  # fmt: skip


def test_kinds_that_always_write_reason_and_message_keep_them_empty() -> None:
    cond = conditions.build("Available", "True", T1, keep_empty=True, lastUpdateTime=T1)
    assert cond["reason"] == "" and cond["message"] == "" and cond["lastUpdateTime"] == T1


def test_find_upsert_and_without() -> None:
    current = [conditions.build("A", "True", T1), conditions.build("B", "False", T1)]
    assert conditions.find(current, "B") is current[1]
    assert conditions.find(None, "B") is None
    conditions.upsert(current, conditions.build("B", "True", T2))
    conditions.upsert(current, conditions.build("C", "True", T2))
    assert [(c["type"], c["status"]) for c in current] == [("A", "True"), ("B", "True"),
                                                           ("C", "True")]  # fmt: skip
    assert [c["type"] for c in conditions.without(current, "A")] == ["B", "C"]
