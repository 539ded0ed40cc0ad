"""The shared event wiring of the controllers of owned objects (control/controllers/owning.py):
which owner keys a dependent's add, update and delete wake, as Kubernetes' addPod, updatePod
and deletePod, over hand-filled caches (no informer runs)."""

from __future__ import annotations

from typing import Any

import pytest

from common.informer import Handler, Informer, by_namespace
from control.controllers.owning import OwnerController

Obj = dict[str, Any]


class Informers:
    """SharedInformers' one call (every cache indexed by namespace), with informers that never
    start."""

    def __init__(self) -> None:
        self.made: dict[str, Informer] = {}

    def informer(self, resource: str, indexers: Any = None) -> Informer:
        inf = self.made.setdefault(resource, Informer(None, {"namespace": by_namespace}))  # type: ignore[arg-type]
        if indexers:
            inf.store.add_indexers(indexers)
        return inf


class Queue:
    def __init__(self) -> None:
        self.added: list[str] = []
        self.after: list[tuple[str, float]] = []

    def add(self, key: str) -> None:
        self.added.append(key)

    def add_after(self, key: str, delay: float) -> None:
        self.after.append((key, delay))


class Sets(OwnerController):
    def __init__(self, informers: Informers, **watch: Any) -> None:
        super().__init__("sets", "Set", None, informers, "sets", clock=None, workers=1)  # type: ignore[arg-type]
        self.pods = self.watch("pods", **watch)

    def sync(self, key: str) -> None:
        pass


def _set(name: str, uid: str, selector: dict[str, str], min_ready: int = 0) -> Obj:
    spec = {"selector": {"matchLabels": selector}, "minReadySeconds": min_ready}
    return {"metadata": {"name": name, "namespace": "ns", "uid": uid}, "spec": spec}


def _pod(rv: str, labels: dict[str, str], owner: Obj | None = None, **extra: Any) -> Obj:
    m: Obj = {"name": "p", "namespace": "ns", "resourceVersion": rv, "labels": labels, **extra}
    if owner is not None:
        om = owner["metadata"]
        m["ownerReferences"] = [
            {"kind": "Set", "name": om["name"], "uid": om["uid"], "controller": True}
        ]
    return {"metadata": m}


def _ready(pod: Obj, ready: bool) -> Obj:
    status = "True" if ready else "False"
    return {**pod, "status": {"conditions": [{"type": "Ready", "status": status}]}}


A = _set("a", "ua", {"app": "x"}, min_ready=10)
B = _set("b", "ub", {"app": "y"})


def _world(**watch: Any) -> tuple[Sets, Queue, Handler]:
    informers = Informers()
    ctl = Sets(informers, **watch)
    queue = Queue()
    ctl.queue = queue  # type: ignore[assignment]
    for s in (A, B):
        ctl.owner_cache.upsert(s)
    handler = informers.made["pods"]._handlers[-1]
    return ctl, queue, handler


def test_an_owned_pod_wakes_its_owner_and_counts_for_its_expectations() -> None:
    ctl, queue, h = _world()
    ctl.expectations.expect_creations("ns/a", 1)
    assert h.on_add is not None
    h.on_add(_pod("1", {"app": "x"}, A))
    assert queue.added == ["ns/a"]
    assert ctl.expectations.satisfied("ns/a")


def test_an_orphan_wakes_the_owners_that_select_it_unless_they_do_not_adopt() -> None:
    _, queue, h = _world()
    assert h.on_add is not None
    h.on_add(_pod("1", {"app": "y"}))
    assert queue.added == ["ns/b"]
    _, queue, h = _world(adopt=False)
    assert h.on_add is not None
    h.on_add(_pod("1", {"app": "y"}))
    assert queue.added == []


def test_an_orphan_update_wakes_adopters_only_when_labels_or_controller_change() -> None:
    _, queue, h = _world()
    assert h.on_update is not None
    h.on_update(_pod("1", {"app": "y"}), _pod("2", {"app": "y"}))
    assert queue.added == []
    h.on_update(_pod("2", {"app": "y"}), _pod("3", {"app": "x"}))
    assert queue.added == ["ns/a"]


def test_a_resync_wakes_nobody_and_a_controller_change_wakes_both_owners() -> None:
    _, queue, h = _world()
    assert h.on_update is not None
    h.on_update(_pod("1", {"app": "x"}, A), _pod("1", {"app": "x"}, A))
    assert queue.added == []
    h.on_update(_pod("1", {"app": "x"}, A), _pod("2", {"app": "x"}, B))
    assert sorted(queue.added) == ["ns/a", "ns/b"]


@pytest.mark.parametrize("replace", [True, False])
def test_a_graceful_deletion_counts_as_the_deletion_when_asked(replace: bool) -> None:
    ctl, queue, h = _world(replace_deleting=replace)
    ctl.expectations.expect_deletions("ns/a", ["ns/p"])
    assert h.on_update is not None
    going = _pod("2", {"app": "x"}, A, deletionTimestamp="2026-01-01T00:00:00Z")
    h.on_update(_pod("1", {"app": "x"}, A), going)
    assert queue.added == ["ns/a"]
    assert ctl.expectations.satisfied("ns/a") is replace


def test_a_pod_turning_ready_brings_its_owner_back_after_min_ready_seconds() -> None:
    _, queue, h = _world(ready_after=lambda s: int(s["spec"]["minReadySeconds"]))
    assert h.on_update is not None
    pod = _pod("1", {"app": "x"}, A)
    h.on_update(
        _ready(pod, False),
        _ready({**pod, "metadata": {**pod["metadata"], "resourceVersion": "2"}}, True),
    )
    assert queue.after == [("ns/a", 11.0)]


def test_a_deleted_pod_wakes_its_owner_and_an_orphan_nobody() -> None:
    ctl, queue, h = _world()
    ctl.expectations.expect_deletions("ns/a", ["ns/p"])
    assert h.on_delete is not None
    h.on_delete(_pod("1", {"app": "y"}))
    h.on_delete(_pod("1", {"app": "x"}, A))
    assert queue.added == ["ns/a"]
    assert ctl.expectations.satisfied("ns/a")


def test_an_owner_made_again_under_its_name_starts_with_no_expectations() -> None:
    ctl, queue, _ = _world()
    ctl.expectations.expect_creations("ns/a", 2)
    ctl.owner_updated(A, {**A, "metadata": {**A["metadata"], "uid": "ua2"}})
    assert ctl.expectations.satisfied("ns/a")
    assert queue.added == ["ns/a", "ns/a"]
