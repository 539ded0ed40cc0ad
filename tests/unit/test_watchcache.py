"""The watch cache's parts: the ring (order, eviction, 410, sizing), dispatch (selectors, the
spec.nodeName index, ADDED/DELETED for objects entering or leaving a selection), bookmarks, and
the cacher over the in-memory store (consistent reads, pages rebuilt at their revision)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from common import errors, fastjson
from common.resources import must
from common.selectors import LabelSelector, parse_field_selector, parse_label_selector
from control.cache import dispatch, ring
from control.cache.cacher import Cacher
from control.cache.dispatch import Closed, Filter, Watcher, WatcherIndex
from control.cache.ring import Entry, Ring
from control.memory_store import MemoryStore
from control.registry import strategies as st
from control.store import parse_rv

PODS = must("pods")


def pod(name: str, node: str = "", ns: str = "default", **labels: str) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": name, "namespace": ns, "uid": f"u-{name}", "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }
    if node:
        obj["spec"]["nodeName"] = node
    return obj


def entry(etype: str, rv: int, new: dict[str, Any], old: dict[str, Any] | None = None) -> Entry:
    meta = new["metadata"]
    e = Entry(etype, rv, f"{meta['namespace']}/{meta['name']}", meta["namespace"],
              fastjson.dumpb(new), meta["labels"], st.field_values(PODS, new),
              recorded=float(rv))  # fmt: skip
    if old is not None:
        e.prev, e.prev_labels, e.prev_fields = (
            fastjson.dumpb(old),
            old["metadata"]["labels"],
            st.field_values(PODS, old),
        )
    return e


def filt(labels: str = "", fields: str = "", ns: str = "") -> Filter:
    selector = parse_field_selector(fields, st.selectable_fields(PODS), "Pod")
    return Filter(ns, parse_label_selector(labels), selector, selector.requirement("spec.nodeName"),
                  selector.requirement("metadata.name"))  # fmt: skip


# -- the ring ---------------------------------------------------------------------------------


def test_ring_serves_changes_after_a_revision_and_410_once_evicted() -> None:
    r = Ring(5, lower=3, upper=3)
    for rv in (6, 8, 9):
        r.append(entry("ADDED", rv, pod(f"p{rv}")))
    assert [e.rv for e in r.since(5)] == [6, 8, 9]
    assert [e.rv for e in r.since(7)] == [8, 9]
    assert r.since(9) == []
    r.append(entry("ADDED", 12, pod("p12")))  # full: the oldest (6) leaves
    assert r.floor == 6 and [e.rv for e in r.since(6)] == [8, 9, 12]
    with pytest.raises(errors.GoneError, match=r"^too old resource version: 5 \(6\)$"):
        r.since(5)
    with pytest.raises(ValueError):
        r.append(entry("ADDED", 12, pod("again")))


def test_old_entries_drop_their_encoded_events_and_pack_their_texts() -> None:
    r = Ring(0, lower=4096, upper=4096)
    for rv in range(1, ring.PACKED_AFTER + 3):
        r.append(entry("ADDED", rv, pod(f"p{rv}")))
        r.since(rv - 1)[0].deliver("ADDED").line()
    kept = [e for e in r.since(0) if e._shared]
    assert [e.rv for e in r.since(0)][-ring.PACKED_AFTER :] == [e.rv for e in kept]
    assert [e.packed for e in r.since(0)] == [True] * 2 + [False] * ring.PACKED_AFTER


def test_a_packed_change_delivers_what_it_did_and_shares_the_text_before_it() -> None:
    r = Ring(0, lower=4096, upper=4096)
    versions = [pod("p", app="web"), pod("p", "n1", app="web"), pod("p", "n1", app="db")]
    previous = None
    for rv, obj in enumerate(versions, start=1):
        obj["metadata"]["resourceVersion"] = str(rv)
        e = entry("ADDED" if previous is None else "MODIFIED", rv, obj, previous)
        if previous is not None:  # as the cache does: the text before is the last one's own
            e.prev = r.since(rv - 2)[0].obj
        r.append(e)
        previous = obj
    first, second, third = r.since(0)
    lines = {e.rv: (e.deliver(e.type).line(), e.deliver("DELETED").line()) for e in r.since(0)}
    for _ in range(ring.PACKED_AFTER):
        r.append(entry("ADDED", r.newest() + 1, pod(f"other{r.newest()}")))
    assert first.packed and second.packed and third.packed
    assert second.prev is first.obj and third.prev is second.obj  # compressed once for both
    assert json.loads(third.new_text()) == versions[2]
    assert json.loads(third.prev_text() or b"") == versions[1]
    again = {e.rv: (e.deliver(e.type).line(), e.deliver("DELETED").line()) for e in r.since(0)[:3]}
    assert again == lines


def test_what_the_ring_packed_leaves_with_the_changes_it_evicts() -> None:
    size = ring.PACKED_AFTER + 10
    r = Ring(0, lower=size, upper=size)
    for rv in range(1, 3 * size):
        r.append(entry("ADDED", rv, pod(f"p{rv}")))  # a key each: none is changed again
    assert len(r._packed) == 10  # the packed changes still in the ring, not every key seen


def test_ring_grows_while_its_events_are_fresh_and_shrinks_when_they_age() -> None:
    r = Ring(0, lower=4, upper=16)
    for rv in range(1, 17):  # all recorded within the window: the ring doubles up to 16
        r.append(entry("ADDED", rv, pod(f"p{rv}")))
    assert r.capacity == 16 and len(r) == 16 and r.floor == 0
    late = entry("ADDED", 17, pod("late"))
    late.recorded = 17 + ring.WINDOW_SECONDS * 2  # everything before is now old: halve
    r.append(late)
    assert r.capacity == 8 and len(r) == 8 and r.floor == 9


# -- dispatch ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "selector", "expected"),
    [
        ({"app": "web"}, {"app": "web", "x": "y"}, "app=web", "MODIFIED"),
        ({"app": "db"}, {"app": "web"}, "app=web", "ADDED"),
        ({"app": "web"}, {"app": "db"}, "app=web", "DELETED"),
        ({"app": "db"}, {"app": "db", "x": "y"}, "app=web", None),
        ({"app": "db"}, {"app": "web"}, "", "MODIFIED"),
    ],
)
def test_a_change_is_seen_as_its_selection_sees_it(
    before: dict[str, str], after: dict[str, str], selector: str, expected: str | None
) -> None:
    e = entry("MODIFIED", 7, pod("p", **after), pod("p", **before))
    assert dispatch.classify(e, filt(selector)) == expected


def test_leaving_a_selection_sends_the_previous_object_at_the_change_revision() -> None:
    old = pod("p", app="web")
    old["metadata"]["resourceVersion"] = "3"
    e = entry("MODIFIED", 7, pod("p", app="db"), old)
    gone = e.deliver("DELETED")
    assert gone["type"] == "DELETED"
    assert gone["object"]["metadata"]["labels"] == {"app": "web"}
    assert gone["object"]["metadata"]["resourceVersion"] == "7"
    assert old["metadata"]["resourceVersion"] == "3"  # the cached object is left alone
    assert e.deliver("DELETED") is gone  # one shared event, encoded once
    assert gone.line() is gone.line()
    assert gone.line() == (json.dumps({"type": "DELETED", "object": gone["object"]},
                                      separators=(",", ":")) + "\n").encode()  # fmt: skip
    assert gone["object"] is not gone["object"]  # each reader decodes its own copy


def test_creation_deletion_and_namespace_filters() -> None:
    created = entry("ADDED", 2, pod("p", app="web"))
    assert dispatch.classify(created, filt("app=web")) == "ADDED"
    assert dispatch.classify(created, filt("app=web", ns="other")) is None
    deleted = entry("DELETED", 3, pod("p", app="web"), pod("p", app="web"))
    assert dispatch.classify(deleted, filt("app=web")) == "DELETED"
    assert dispatch.classify(deleted, filt("app=db")) is None


def test_node_bound_watchers_are_visited_only_for_their_nodes_changes() -> None:
    index = WatcherIndex()
    a, b = Watcher(filt(fields="spec.nodeName=a")), Watcher(filt(fields="spec.nodeName=b"))
    unbound, everyone = Watcher(filt(fields="spec.nodeName=")), Watcher(filt())
    in_ns = Watcher(filt(ns="default"))
    for w in (a, b, unbound, everyone, in_ns):
        index.add(w)
    assert len(index) == 5
    on_a = entry("MODIFIED", 5, pod("p", node="a"), pod("p", node="a"))
    assert set(index.candidates(on_a)) == {a, everyone, in_ns}
    moved = entry("MODIFIED", 6, pod("p", node="b"), pod("p", node="a"))
    assert set(index.candidates(moved)) == {a, b, everyone, in_ns}
    assert dispatch.classify(moved, a.filter) == "DELETED"
    assert dispatch.classify(moved, b.filter) == "ADDED"
    bound = entry("MODIFIED", 7, pod("q", node="a"), pod("q"))
    assert set(index.candidates(bound)) == {a, unbound, everyone, in_ns}
    assert dispatch.classify(bound, unbound.filter) == "DELETED"
    elsewhere = entry("ADDED", 8, pod("r", ns="kube-system"))
    assert set(index.candidates(elsewhere)) == {unbound, everyone}
    index.remove(a)
    assert a not in index.candidates(on_a)


def test_watchers_of_one_object_are_visited_only_for_its_changes() -> None:
    index = WatcherIndex()
    mine = Watcher(filt(fields="metadata.name=p", ns="default"))
    any_ns = Watcher(filt(fields="metadata.name=p"))
    other = Watcher(filt(fields="metadata.name=q", ns="default"))
    everyone = Watcher(filt())
    for w in (mine, any_ns, other, everyone):
        index.add(w)
    assert len(index) == 4 and set(index.all()) == {mine, any_ns, other, everyone}
    changed = entry("MODIFIED", 5, pod("p", app="web"), pod("p"))
    assert set(index.candidates(changed)) == {mine, any_ns, everyone}
    assert dispatch.classify(changed, mine.filter) == "MODIFIED"
    elsewhere = entry("ADDED", 6, pod("p", ns="kube-system"))
    assert set(index.candidates(elsewhere)) == {any_ns, everyone}
    index.remove(mine)
    assert set(index.candidates(changed)) == {any_ns, everyone}
    index.remove(any_ns)
    index.remove(other)
    assert index.by_name == {} and len(index) == 1


def test_a_watcher_that_falls_behind_is_closed_not_waited_for() -> None:
    w = Watcher(filt(), buffer=2)
    events = [entry("ADDED", rv, pod(f"p{rv}")).deliver("ADDED") for rv in (1, 2, 3)]
    assert w.push(events[0]) and w.push(events[1])
    assert not w.push(events[2])  # full: closed at once
    assert w.next(0) is events[0] and w.next(0) is events[1]  # what it had is still sent
    with pytest.raises(Closed):
        w.next(0)


# -- the cacher over the in-memory store --------------------------------------------------------


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def cacher(store: MemoryStore) -> Any:
    c = Cacher(store, PODS)
    yield c
    c.stop()


def wait_until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def names(items: list[bytes]) -> list[str]:
    return [json.loads(raw)["metadata"]["name"] for raw in items]


def test_a_consistent_read_sees_every_write_before_it(store: MemoryStore, cacher: Cacher) -> None:
    cacher.start()
    for i in range(20):
        store.create("pods", pod(f"p{i:02}"))
        store.create("nodes", {"metadata": {"name": f"n{i}"}})  # moves the global revision
        assert cacher.sync(3)
        page, rv = cacher.read(filt())
        assert rv == store.revision()
        assert names(page.items)[-1] == f"p{i:02}"


def test_a_bounded_ring_serves_recent_revisions_and_410_for_older(store: MemoryStore) -> None:
    """The controller process's caches: their informers resume from their last change."""
    c = Cacher(store, PODS, ring_upper=8)
    try:
        c.start()
        revisions = [parse_rv(store.create("pods", pod(f"p{i:02}"))["metadata"]["resourceVersion"])
                     for i in range(20)]  # fmt: skip
        assert c.sync(3)
        assert len(c.ring) <= 8
        initial, _ = c.watch(revisions[-3], filt())
        assert [e["object"]["metadata"]["name"] for e in initial] == ["p18", "p19"]
        with pytest.raises(errors.GoneError):
            c.watch(revisions[2], filt())
    finally:
        c.stop()


def test_a_watch_from_before_the_cache_started_is_served_from_the_log(store: MemoryStore) -> None:
    first = store.create("pods", pod("early", app="web"))
    store.update("pods", {**first, "metadata": {**first["metadata"], "labels": {"app": "db"}}})
    c = Cacher(store, PODS)
    try:
        c.start()
        initial, w = c.watch(1, filt("app=web"))
        assert [e["type"] for e in initial] == ["DELETED"]
        assert initial[0]["object"]["metadata"]["labels"] == {"app": "web"}
        store.create("pods", pod("later", app="web"))
        wait_until(lambda: w.pending() == 1)
        assert w.next(0)["object"]["metadata"]["name"] == "later"  # type: ignore[index]
    finally:
        c.stop()


def test_watch_from_zero_starts_with_the_selected_objects(
    store: MemoryStore, cacher: Cacher
) -> None:
    store.create("pods", pod("a", node="n1"))
    store.create("pods", pod("b", node="n2"))
    cacher.start()
    initial, w = cacher.watch(0, filt(fields="spec.nodeName=n1"))
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in initial] == [("ADDED", "a")]
    cacher.forget(w)
    assert len(cacher.watchers) == 0


def test_bookmarks_carry_the_cache_revision_never_ahead_of_a_queued_event(
    store: MemoryStore, cacher: Cacher
) -> None:
    cacher.start()
    _, w = cacher.watch(0, filt("app=web"))
    store.create("pods", pod("other"))  # not for this watcher: the revision moves anyway
    wait_until(lambda: cacher.rv == store.revision())
    mark = cacher.bookmark(w)
    assert mark is not None and mark["type"] == "BOOKMARK"
    assert mark["object"]["metadata"]["resourceVersion"] == str(store.revision())
    store.create("pods", pod("web", app="web"))
    wait_until(lambda: w.pending() == 1)
    assert cacher.bookmark(w) is None


def test_pages_are_read_at_the_first_pages_revision(store: MemoryStore, cacher: Cacher) -> None:
    for name in ("a", "b", "c", "d"):
        store.create("pods", pod(name))
    cacher.start()
    first, rv = cacher.read(filt(), limit=2)
    assert names(first.items) == ["a", "b"] and first.last == "default/b"
    assert first.remaining == 2
    store.delete("pods", "default", "c")
    changed = store.get("pods", "default", "d")
    changed["metadata"]["labels"] = {"new": "yes"}
    store.update("pods", changed)
    store.create("pods", pod("bb"))
    wait_until(lambda: cacher.rv == store.revision())
    rest, at = cacher.read(filt(), start="default/b\x00", limit=2, at=rv)
    assert at == rv and names(rest.items) == ["c", "d"] and rest.last is None
    assert json.loads(rest.items[1])["metadata"]["labels"] == {}
    now, _ = cacher.read(filt(), start="default/b\x00")
    assert names(now.items) == ["bb", "d"]
    with pytest.raises(errors.GoneError):
        cacher.read(filt(), at=cacher.undo_floor - 1)


def test_a_read_waits_for_a_revision_then_is_504(store: MemoryStore, cacher: Cacher) -> None:
    cacher.start()
    store.create("pods", pod("a"))
    cacher.wait_fresh(store.revision(), 3)
    with pytest.raises(errors.ServerTimeoutError, match="Too large resource version: 99, current"):
        cacher.wait_fresh(99, 0.2)


class DownStore(MemoryStore):
    """A store whose lists fail, counting the tries."""

    def __init__(self) -> None:
        super().__init__()
        self.tries = 0

    def list(self, *args: Any, **kwargs: Any) -> Any:
        self.tries += 1
        raise errors.ServiceUnavailableError("the storage backend is unavailable: down")


def test_a_failed_start_is_answered_at_once_for_a_second_then_tried_again() -> None:
    store, now = DownStore(), [100.0]
    c = Cacher(store, PODS, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(errors.ServiceUnavailableError, match="storage backend"):
            c.start()
    assert store.tries == 1
    now[0] += 1.5
    with pytest.raises(errors.ServiceUnavailableError):
        c.start()
    assert store.tries == 2 and not c.ready


def test_a_reader_behind_the_log_lists_again_and_closes_its_watchers() -> None:
    store = MemoryStore(history=10)
    c = Cacher(store, PODS)
    try:
        c.start()
        _, w = c.watch(0, filt())
        with c.cond:  # the reader cannot apply anything while the log is trimmed past it
            for i in range(50):
                store.create("pods", pod(f"p{i:02}"))
        wait_until(lambda: w.closed)
        wait_until(lambda: c.rv == store.revision())
        page, _ = c.read(filt())
        assert len(page.items) == 50
        with pytest.raises(Closed):
            while True:
                w.next(0)
    finally:
        c.stop()


def test_bookmarks_come_every_period_then_two_seconds_before_the_deadline() -> None:
    from control.registry.reads import next_bookmark

    assert next_bookmark(100.0, None, 160.0) is None  # bookmarks not asked for
    assert next_bookmark(100.0, 5.0, None) == 105.0  # no deadline: every period
    assert next_bookmark(100.0, 5.0, 160.0) == 105.0
    assert next_bookmark(100.0, 60.0, 130.0) == 128.0  # the deadline comes first
    assert next_bookmark(129.0, 60.0, 130.0) is None  # too late for one more


def test_what_versions_and_objects_have_in_common_is_kept_once(
    store: MemoryStore, cacher: Cacher
) -> None:
    cacher.start()
    one = 1
    a = store.create("pods", pod("a", f"n{one}", app="web"))  # two strings, equal
    store.create("pods", pod("b", f"n{one}", app="web"))
    store.update("pods", {**a, "metadata": {**a["metadata"], "annotations": {"x": "y"}}})
    assert cacher.sync(3)
    first, changed = cacher.ring.since(0)[0], cacher.ring.since(0)[-1]
    now_a, now_b = cacher.state["default/a"], cacher.state["default/b"]
    assert changed.prev_labels is now_a[1] and changed.prev_fields is now_a[2]  # one version's
    assert first.labels is now_a[1]  # the labels of a's first version, kept by its second
    assert now_a[2]["spec.nodeName"] is now_b[2]["spec.nodeName"]  # one string for two pods


def test_a_read_of_one_name_looks_up_that_object_only(store: MemoryStore, cacher: Cacher) -> None:
    store.create("pods", pod("a", node="n1"))
    store.create("pods", pod("b"))
    store.create("pods", pod("a", ns="other"))
    cacher.start()
    one, _ = cacher.read(filt(fields="metadata.name=a", ns="default"))
    assert [json.loads(i)["metadata"]["namespace"] for i in one.items] == ["default"]
    everywhere, _ = cacher.read(filt(fields="metadata.name=a"))  # a name in every namespace
    assert sorted(json.loads(i)["metadata"]["namespace"] for i in everywhere.items) == [
        "default",
        "other",
    ]
    assert cacher.read(filt(fields="metadata.name=zz", ns="default"))[0].items == []
    # The other selectors still apply to the one object.
    assert cacher.read(filt(fields="metadata.name=a,spec.nodeName=n2", ns="default"))[0].items == []


def test_a_node_read_by_name_from_the_cache(store: MemoryStore) -> None:
    nodes = must("nodes")
    for name in ("n1", "n2"):
        store.create("nodes", {"metadata": {"name": name, "uid": f"u-{name}", "labels": {}}})
    c = Cacher(store, nodes)
    try:
        c.start()
        selector = parse_field_selector("metadata.name=n2", st.selectable_fields(nodes), "Node")
        page, _ = c.read(Filter("", LabelSelector(), selector, None, "n2"))
        assert [json.loads(i)["metadata"]["name"] for i in page.items] == ["n2"]
        assert c.read(Filter("", LabelSelector(), selector, None, "n3"))[0].items == []
    finally:
        c.stop()
