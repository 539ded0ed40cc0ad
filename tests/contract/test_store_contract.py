"""The store contract: one suite run against the in-memory fake and the real Redis store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from common import errors
from control.memory_store import MemoryStore
from control.redis_store import RedisStore
from control.store import Progress, Store


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryStore(history=50)
    else:
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("key_prefix")
        s = RedisStore(url, prefix=prefix, history=50)
        yield s
        s.close()


def pod(name: str, ns: str = "default", node: str = "", **labels: str) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }
    if node:
        obj["spec"]["nodeName"] = node
    return obj


def rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


def test_create_get_roundtrip(store: Store) -> None:
    created = store.create("pods", pod("a"))
    got = store.get("pods", "default", "a")
    assert got == created
    assert rv(got) == store.revision()


def test_create_existing_is_already_exists(store: Store) -> None:
    store.create("pods", pod("a"))
    with pytest.raises(errors.AlreadyExistsError):
        store.create("pods", pod("a"))


def test_get_missing_is_not_found(store: Store) -> None:
    with pytest.raises(errors.NotFoundError):
        store.get("pods", "default", "nope")


def test_update_with_stale_rv_conflicts_and_keeps_object(store: Store) -> None:
    first = store.create("pods", pod("a"))
    second = store.update(
        "pods", {**pod("a"), "status": {"phase": "Running"}}, expected_rv=rv(first)
    )
    assert rv(second) > rv(first)
    with pytest.raises(errors.ConflictError):
        store.update("pods", pod("a"), expected_rv=rv(first))
    assert store.get("pods", "default", "a")["status"] == {"phase": "Running"}


def test_update_missing_is_not_found(store: Store) -> None:
    with pytest.raises(errors.NotFoundError):
        store.update("pods", pod("ghost"))


def test_delete_with_uid_precondition(store: Store) -> None:
    store.create("pods", pod("a"))
    with pytest.raises(errors.ConflictError):
        store.delete("pods", "default", "a", expected_uid="other")
    gone = store.delete("pods", "default", "a", expected_uid="uid-a")
    assert gone["metadata"]["name"] == "a"
    with pytest.raises(errors.NotFoundError):
        store.get("pods", "default", "a")


def test_list_by_namespace_and_node(store: Store) -> None:
    store.create("pods", pod("a", node="n1"))
    store.create("pods", pod("b", node="n2"))
    store.create("pods", pod("c", ns="other", node="n1"))
    store.create("nodes", {"metadata": {"name": "n1"}})
    all_pods, rev = store.list("pods")
    assert [p["metadata"]["name"] for p in all_pods] == ["a", "b", "c"]
    assert rev == store.revision()
    assert [p["metadata"]["name"] for p in store.list("pods", "default")[0]] == ["a", "b"]
    assert [p["metadata"]["name"] for p in store.list("pods", node="n1")[0]] == ["a", "c"]
    # Moving a pod to another node moves it in the index; deleting it removes it.
    b = store.get("pods", "default", "b")
    b["spec"]["nodeName"] = "n1"
    store.update("pods", b)
    assert [p["metadata"]["name"] for p in store.list("pods", node="n1")[0]] == ["a", "b", "c"]
    assert store.list("pods", node="n2")[0] == []
    store.delete("pods", "default", "a")
    assert [p["metadata"]["name"] for p in store.list("pods", node="n1")[0]] == ["b", "c"]


def test_count_by_resource_and_namespace(store: Store) -> None:
    assert store.count("pods") == 0
    store.create("pods", pod("a"))
    store.create("pods", pod("b"))
    store.create("pods", pod("c", ns="other"))
    store.create("nodes", {"metadata": {"name": "n1"}})
    assert (store.count("pods"), store.count("pods", "default"), store.count("nodes")) == (3, 2, 1)
    assert store.count("pods", "nowhere") == 0
    store.delete("pods", "default", "a")
    assert store.count("pods") == 2 and store.count("pods", "default") == 1


def take(it: Iterator[Any], n: int) -> list[Any]:
    out = []
    for e in it:
        if e is not None:
            out.append(e)
        if len(out) == n:
            return out
    return out


def test_watch_replays_from_revision_in_order(store: Store) -> None:
    start = store.revision()
    a = store.create("pods", pod("a"))
    store.create("nodes", {"metadata": {"name": "n"}})
    a["status"] = {"phase": "Running"}
    store.update("pods", a)
    store.delete("pods", "default", "a")
    events = take(store.watch("pods", start, poll=0.2), 3)
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert [e.rv for e in events] == sorted(e.rv for e in events)
    assert all(rv(e.object) == e.rv for e in events)
    # Resuming after the second event yields exactly the third.
    again = take(store.watch("pods", events[1].rv, poll=0.2), 1)
    assert [(e.type, e.rv) for e in again] == [("DELETED", events[2].rv)]


def test_watch_sees_live_writes(store: Store) -> None:
    start = store.revision()
    got: list[Any] = []

    def reader() -> None:
        got.extend(take(store.watch("pods", start, poll=0.2), 2))

    t = threading.Thread(target=reader)
    t.start()
    store.create("pods", pod("x"))
    store.create("pods", pod("y"))
    t.join(10)
    assert [e.object["metadata"]["name"] for e in got] == ["x", "y"]


def test_watch_from_compacted_revision_is_gone(store: Store) -> None:
    start = store.revision()
    for i in range(400):  # well past history (50) plus the trim slack
        store.create("pods", pod(f"p{i}"))
    with pytest.raises(errors.GoneError):
        take(store.watch("pods", start, poll=0.2), 1)
    # A recent revision still resumes.
    recent = store.revision() - 5
    assert len(take(store.watch("pods", recent, poll=0.2), 5)) == 5


def test_a_watch_that_falls_behind_the_history_is_gone(store: Store) -> None:
    store.create("pods", pod("first"))
    events = store.watch("pods", store.revision() - 1, poll=0.2)
    assert take(events, 1)[0].object["metadata"]["name"] == "first"
    for i in range(400):  # trimmed past the watch's cursor while it was not reading
        store.create("pods", pod(f"p{i}"))
    with pytest.raises(errors.GoneError):
        take(events, 1)


def test_progress_tells_the_last_change_of_a_resource(store: Store) -> None:
    assert store.progress("pods") == Progress(store.revision(), 0, 0)
    created = store.create("pods", pod("a"))
    store.create("nodes", {"metadata": {"name": "n"}})
    assert store.progress("pods") == Progress(store.revision(), rv(created), 0)
    for i in range(400):
        store.create("pods", pod(f"p{i}"))
    p = store.progress("pods")
    assert p.last == p.revision == store.revision() and 0 < p.compacted < p.last
    assert len(take(store.watch("pods", p.compacted, poll=0.2), 3)) == 3
    with pytest.raises(errors.GoneError):
        take(store.watch("pods", p.compacted - 1, poll=0.2), 1)


def test_concurrent_conflicting_updates_lose_nothing(store: Store) -> None:
    store.create("nodes", {"metadata": {"name": "counter"}, "spec": {"n": 0}})
    workers, per_worker = 8, 15
    conflicts = []

    def bump() -> None:
        done = 0
        while done < per_worker:
            obj = store.get("nodes", "", "counter")
            obj["spec"]["n"] += 1
            try:
                store.update("nodes", obj, expected_rv=rv(obj))
                done += 1
            except errors.ConflictError:
                conflicts.append(1)

    threads = [threading.Thread(target=bump) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert store.get("nodes", "", "counter")["spec"]["n"] == workers * per_worker


def test_create_race_yields_exactly_one_success(store: Store) -> None:
    results: list[str] = []
    barrier = threading.Barrier(12)

    def create() -> None:
        barrier.wait()
        try:
            store.create("pods", pod("race"))
            results.append("ok")
        except errors.AlreadyExistsError:
            results.append("exists")

    threads = [threading.Thread(target=create) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results.count("ok") == 1
    assert results.count("exists") == 11
    assert len(store.list("pods")[0]) == 1


def test_modified_event_carries_previous_selectable_fields(store: Store) -> None:
    start = store.revision()
    a = store.create("pods", pod("a", app="web"))
    a["metadata"]["labels"] = {"app": "debug"}
    a["spec"]["nodeName"] = "n1"
    store.update("pods", a)
    added, modified = take(store.watch("pods", start, poll=0.2), 2)
    assert added.prev is None
    assert modified.prev["metadata"]["labels"] == {"app": "web"}
    assert modified.prev["spec"] == {}
    assert modified.object["metadata"]["labels"] == {"app": "debug"}


def test_unreachable_redis_fails_fast_with_503() -> None:
    import time

    from common.redis_server import free_port

    s = RedisStore(f"redis://127.0.0.1:{free_port()}/0", prefix="x:")
    t0 = time.monotonic()
    with pytest.raises(errors.ServiceUnavailableError):
        s.get("pods", "default", "a")
    assert time.monotonic() - t0 < 5


def test_watch_ends_at_its_deadline_while_changes_flow(store: Store) -> None:
    start = store.revision()
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            store.create("pods", pod(f"w{i}"))
            i += 1
            stop.wait(0.02)

    t = threading.Thread(target=writer)
    t.start()
    try:
        until = time.monotonic() + 0.5
        seen = sum(1 for e in store.watch("pods", start, poll=5.0, until=until) if e)
        ended = time.monotonic()
    finally:
        stop.set()
        t.join(10)
    assert seen > 0
    # A poll of 5 s, yet the watch stops at the deadline (a little after, under load).
    assert until <= ended < until + 2.0


def svc(name: str, ns: str = "default") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}"}, "spec": {}}


def test_claims_are_unique_and_written_with_the_object(store: Store) -> None:
    store.create("services", svc("a"), claims=["serviceips:10.96.0.5", "nodeports:30080"])
    assert store.claimed("serviceips") == {"10.96.0.5"}
    assert store.claimed("nodeports") == {"30080"}
    before = store.revision()
    with pytest.raises(errors.ClaimTakenError) as caught:
        store.create("services", svc("b"), claims=["serviceips:10.96.0.6", "nodeports:30080"])
    assert caught.value.claim == "nodeports:30080"
    # Nothing of the refused write is left: no object, no event, no claim.
    assert store.revision() == before
    assert store.claimed("serviceips") == {"10.96.0.5"}
    with pytest.raises(errors.NotFoundError):
        store.get("services", "default", "b")


def test_update_keeps_or_replaces_claims(store: Store) -> None:
    a = store.create("services", svc("a"), claims=["serviceips:10.96.0.5", "nodeports:30080"])
    a = store.update("services", a)  # no claims given: kept
    assert store.claimed("nodeports") == {"30080"}
    store.create("services", svc("b"), claims=["nodeports:30081"])
    with pytest.raises(errors.ClaimTakenError):
        store.update("services", a, claims=["serviceips:10.96.0.5", "nodeports:30081"])
    assert store.claimed("nodeports") == {"30080", "30081"}
    store.update("services", a, claims=["serviceips:10.96.0.5"])
    assert store.claimed("nodeports") == {"30081"}
    assert store.claimed("serviceips") == {"10.96.0.5"}


def test_delete_releases_claims(store: Store) -> None:
    store.create("services", svc("a"), claims=["serviceips:10.96.0.5"])
    store.create("services", svc("b", "other"), claims=["serviceips:10.96.0.6"])
    store.delete("services", "default", "a")
    assert store.claimed("serviceips") == {"10.96.0.6"}
    store.create("services", svc("c"), claims=["serviceips:10.96.0.5"])
    assert store.claimed("serviceips") == {"10.96.0.5", "10.96.0.6"}


def test_concurrent_claims_of_one_value_one_wins(store: Store) -> None:
    won: list[str] = []
    lost: list[str] = []

    def claim(name: str) -> None:
        try:
            store.create("services", svc(name), claims=["serviceips:10.96.0.9"])
            won.append(name)
        except errors.ClaimTakenError:
            lost.append(name)

    threads = [threading.Thread(target=claim, args=(f"s{i}",)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(lost) == 15
