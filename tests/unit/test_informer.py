"""Informer and Indexer over a scripted ListerWatcher: the cache follows lists and watch events,
handlers hear adds, updates and deletes, a 410 lists again and tells the difference."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from common import errors
from common.informer import (
    Handler,
    Indexer,
    Informer,
    by_namespace,
    by_node_name,
    by_owner_uid,
    key_of,
)

Obj = dict[str, Any]


def pod(name: str, rv: int, node: str = "", ns: str = "default", owner: str = "") -> Obj:
    m: Obj = {"name": name, "namespace": ns, "resourceVersion": str(rv)}
    if owner:
        m["ownerReferences"] = [{"uid": owner, "kind": "ReplicaSet", "name": "rs"}]
    return {"metadata": m, "spec": {"nodeName": node} if node else {}}


class Script:
    """Lists and watch streams handed out in order; a stream that is an exception raises it."""

    def __init__(self, lists: list[tuple[list[Obj], str]], watches: list[Any]) -> None:
        self.lists = lists
        self.watches = watches
        self.watched_from: list[str] = []
        self.listed_at: list[str] = []
        self.done = threading.Event()

    def list_all(self, resource_version: str = "") -> tuple[list[Obj], str]:
        self.listed_at.append(resource_version)
        return self.lists.pop(0)

    def watch(self, resource_version: str, stop: threading.Event) -> Iterator[Obj]:
        self.watched_from.append(resource_version)
        if not self.watches:
            self.done.set()
            stop.wait()
            return
        stream = self.watches.pop(0)
        if isinstance(stream, Exception):
            raise stream
        yield from stream


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def handler(self) -> Handler:
        return Handler(
            on_add=lambda o: self.seen.append(("add", _id(o))),
            on_update=lambda old, new: self.seen.append(("update", _id(new))),
            on_delete=lambda o: self.seen.append(("delete", _id(o))),
        )


def _id(o: Obj) -> str:
    return f"{key_of(o)}@{o['metadata']['resourceVersion']}"


def run(informer: Informer, script: Script) -> None:
    stop = threading.Event()
    t = informer.start(stop)
    assert script.done.wait(5)
    stop.set()
    t.join(5)


def test_indexer_keeps_its_indexes_when_objects_change() -> None:
    idx = Indexer({"node": by_node_name, "ns": by_namespace, "owner": by_owner_uid})
    idx.upsert(pod("a", 1, node="n1", owner="u1"))
    idx.upsert(pod("b", 2, node="n1"))
    idx.upsert(pod("c", 3, node="n2", ns="other"))
    assert sorted(key_of(o) for o in idx.by_index("node", "n1")) == ["default/a", "default/b"]
    assert [key_of(o) for o in idx.by_index("owner", "u1")] == ["default/a"]
    idx.upsert(pod("a", 4, node="n2"))  # moved, and released by its owner
    assert [key_of(o) for o in idx.by_index("node", "n1")] == ["default/b"]
    assert idx.by_index("owner", "u1") == []
    assert sorted(key_of(o) for o in idx.by_index("node", "n2")) == ["default/a", "other/c"]
    assert idx.remove(pod("c", 5, ns="other")) is not None
    assert idx.by_index("ns", "other") == []
    assert idx.remove(pod("zzz", 6)) is None
    assert len(idx) == 2 and key_of({"metadata": {"name": "node-1"}}) == "node-1"


def test_the_cache_follows_the_list_then_the_watch() -> None:
    events = [
        {"type": "ADDED", "object": pod("c", 11)},
        {"type": "MODIFIED", "object": pod("a", 12, node="n1")},
        {"type": "DELETED", "object": pod("b", 13)},
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "20"}}},
    ]
    script = Script([([pod("a", 1), pod("b", 2)], "10")], [events])
    informer = Informer(script, {"node": by_node_name})
    rec = Recorder()
    informer.add_handler(rec.handler())
    run(informer, script)
    assert informer.has_synced()
    assert rec.seen == [
        ("add", "default/a@1"),
        ("add", "default/b@2"),
        ("add", "default/c@11"),
        ("update", "default/a@12"),
        ("delete", "default/b@13"),
    ]
    assert sorted(informer.store.keys()) == ["default/a", "default/c"]
    assert [key_of(o) for o in informer.store.by_index("node", "n1")] == ["default/a"]
    # The next watch resumes from the last event seen, the bookmark's.
    assert script.watched_from == ["10", "20"]


def test_a_410_lists_again_and_tells_only_the_difference() -> None:
    script = Script(
        [([pod("a", 1), pod("b", 2), pod("c", 3)], "10"), ([pod("a", 1), pod("b", 7)], "30")],
        [errors.GoneError("too old resource version: 10 (25)")],
    )
    informer = Informer(script)
    rec = Recorder()
    informer.add_handler(rec.handler())
    run(informer, script)
    assert rec.seen[3:] == [("update", "default/b@7"), ("delete", "default/c@3")]
    assert script.watched_from == ["10", "30"]
    # As client-go's reflector: the first list may come from the server's watch cache ("0");
    # after a 410 the list is a consistent read ("").
    assert script.listed_at == ["0", ""]


def test_after_a_broken_watch_the_list_is_not_older_than_what_was_seen() -> None:
    def broken() -> Iterator[Obj]:
        yield {"type": "MODIFIED", "object": pod("a", 12)}
        raise ConnectionError("reset")

    script = Script([([pod("a", 1)], "10"), ([pod("a", 12)], "40")], [broken()])
    run(informer := Informer(script), script)
    assert informer.has_synced()
    assert script.listed_at == ["0", "12"] and script.watched_from == ["10", "40"]


def test_a_late_handler_hears_the_cache_and_a_failing_one_harms_no_other() -> None:
    script = Script([([pod("a", 1)], "10")], [[{"type": "ADDED", "object": pod("b", 11)}]])
    informer = Informer(script)

    def broken(_: Obj) -> None:
        raise RuntimeError("handler bug")

    informer.add_handler(Handler(on_add=broken))
    run(informer, script)
    rec = Recorder()
    informer.add_handler(rec.handler())
    assert sorted(rec.seen) == [("add", "default/a@1"), ("add", "default/b@11")]


def test_resync_tells_every_cached_object_again_from_the_cache() -> None:
    script = Script([([pod("a", 1)], "10")], [])
    informer = Informer(script, resync=0.05)
    resynced = threading.Event()
    informer.add_handler(Handler(on_update=lambda old, new: old is new and resynced.set()))
    stop = threading.Event()
    t = informer.start(stop)
    try:
        assert resynced.wait(5)
    finally:
        stop.set()
        t.join(5)
    assert script.lists == []  # from the cache: no second list
