"""The last-change trigger time of endpoint writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from control.controllers.triggertime import ANNOTATION, TriggerTimeTracker, annotate, rfc3339_nano

SVC = {"metadata": {"name": "web", "creationTimestamp": "2026-01-01T00:00:00Z"}}


def pod(name: str, ready_at: str) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True",
                                       "lastTransitionTime": ready_at}]}}  # fmt: skip


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_earliest_change_since_the_last_sync() -> None:
    t = TriggerTimeTracker()
    a, b = pod("a", "2026-01-01T00:00:05Z"), pod("b", "2026-01-01T00:00:07Z")
    assert t.compute("ns/web", SVC, [a, b]) == at("2026-01-01T00:00:00Z")  # the Service's
    assert t.compute("ns/web", SVC, [a, b]) is None  # nothing new
    b2 = pod("b", "2026-01-01T00:00:09Z")
    c = pod("c", "2026-01-01T00:00:08Z")
    assert t.compute("ns/web", SVC, [a, b2, c]) == at("2026-01-01T00:00:08Z")
    t.delete_service("ns/web")
    assert t.compute("ns/web", SVC, [a]) == at("2026-01-01T00:00:00Z")


def test_the_annotation_is_rfc3339_nano() -> None:
    assert rfc3339_nano(at("2026-01-01T00:00:05.120000Z")) == "2026-01-01T00:00:05.12Z"
    assert rfc3339_nano(at("2026-01-01T00:00:05Z")) == "2026-01-01T00:00:05Z"
    obj: dict[str, Any] = {"metadata": {"annotations": {"x": "1"}}}
    annotate(obj, at("2026-01-01T00:00:05Z"))
    assert obj["metadata"]["annotations"] == {"x": "1", ANNOTATION: "2026-01-01T00:00:05Z"}
    annotate(obj, None)
    assert obj["metadata"]["annotations"] == {"x": "1"}
