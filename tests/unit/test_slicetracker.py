"""The EndpointSlice controller's memory of its own writes."""

from __future__ import annotations

from typing import Any

from control.controllers.slicetracker import SliceTracker


def slice_(uid: str, generation: int, service: str = "web") -> dict[str, Any]:
    return {"metadata": {"name": f"{service}-{uid}", "namespace": "ns", "uid": uid,
                         "generation": generation,
                         "labels": {"kubernetes.io/service-name": service}}}  # fmt: skip


def test_a_cache_without_the_last_writes_is_stale() -> None:
    t = SliceTracker()
    assert not t.stale("ns/web", [slice_("a", 1)])  # nothing written yet
    t.update(slice_("a", 2))
    assert t.stale("ns/web", [slice_("a", 1)])  # an older generation
    assert t.stale("ns/web", [])  # a created slice not seen yet
    assert not t.stale("ns/web", [slice_("a", 2)])
    assert not t.stale("ns/web", [slice_("a", 3)])  # newer: someone else wrote it since
    t.expect_deletion(slice_("a", 2))
    assert t.stale("ns/web", [slice_("a", 2)])  # deleted, still cached
    assert not t.stale("ns/web", [])
    assert not t.stale("ns/other", [slice_("a", 1, "other")])


def test_own_writes_need_no_sync_and_foreign_deletions_do() -> None:
    t = SliceTracker()
    assert t.should_sync(slice_("a", 1))  # not written by this controller
    t.update(slice_("a", 1))
    assert not t.should_sync(slice_("a", 1))
    assert t.should_sync(slice_("a", 2))
    assert not t.handle_deletion(slice_("a", 1))  # deleted by someone else: sync again
    t.update(slice_("b", 1))
    t.expect_deletion(slice_("b", 1))
    assert t.handle_deletion(slice_("b", 1))
    t.update(slice_("c", 1))
    t.delete_service("ns/web")
    assert not t.stale("ns/web", [])
