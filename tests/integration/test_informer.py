"""An informer over the real API (Flask app on a real Redis, over HTTP): its cache and handlers
follow creates, updates and deletes, and its node index answers what a controller asks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from common import errors
from common.client import ApiClient
from common.controller import Controller
from common.informer import ApiListerWatcher, Handler, Informer, by_node_name
from common.resources import RESOURCES, must
from control.cache import WatchCache
from control.controllerprocess import STREAM_CONNECTIONS
from control.informers import SharedInformers
from control.redis_store import RedisStore
from control.registry.registry import Registry
from control.registry.source import StoreSource
from tests.integration.conftest import Api, pod_manifest

PODS = must("pods")
PODS_PATH = "/api/v1/namespaces/default/pods"


def wait_for(what: str, check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_an_informer_follows_the_api(api: Api, admin: ApiClient) -> None:
    assert api.call("POST", PODS_PATH, pod_manifest("before"))[0] == 201
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def note(kind: str) -> Callable[..., None]:
        def record(*objs: dict[str, Any]) -> None:
            with lock:
                seen.append((kind, objs[-1]["metadata"]["name"]))

        return record

    informer = Informer(
        ApiListerWatcher(admin, PODS, "default", watch_seconds=5), {"node": by_node_name}
    )
    informer.add_handler(Handler(note("add"), note("update"), note("delete")))
    stop = threading.Event()
    thread = informer.start(stop)
    try:
        assert informer.wait_for_sync(10)
        assert informer.store.keys() == ["default/before"]
        assert api.call("POST", PODS_PATH, pod_manifest("web"))[0] == 201
        binding = {"target": {"kind": "Node", "name": "node-1"}}
        assert api.call("POST", f"{PODS_PATH}/web/binding", binding)[0] == 201
        assert api.call("DELETE", f"{PODS_PATH}/before")[0] == 200
        wait_for("the delete", lambda: ("delete", "before") in seen)
        assert [o["metadata"]["name"] for o in informer.store.by_index("node", "node-1")] == ["web"]
        assert seen[:3] == [("add", "before"), ("add", "web"), ("update", "web")]
        cached = informer.store.get("default/web")
        assert cached is not None and cached["spec"]["nodeName"] == "node-1"
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_shared_informers_serve_every_controller_from_one_cache(api: Api, app: Any) -> None:
    """Two controllers asking for pods share one informer; each term starts with a fresh queue
    holding every cached key, so a new leader looks at everything once."""
    registry = app.extensions["tinykube"]["registry"]
    informers = SharedInformers(registry)
    first = informers.informer("pods", {"node": by_node_name})
    assert informers.informer("pods") is first
    synced: list[str] = []
    lock = threading.Lock()

    def sync(key: str) -> None:
        with lock:
            synced.append(key)

    ctl = Controller("probe", sync, initial=first.store.keys)
    first.add_handler(ctl.handler())
    assert api.call("POST", PODS_PATH, pod_manifest("web"))[0] == 201
    stop = threading.Event()
    informers.start(stop)
    try:
        assert informers.wait_for_sync(stop, 10)
        for _ in range(2):  # two leadership terms
            with lock:
                synced.clear()
            term = threading.Event()
            runner = threading.Thread(target=ctl.run, args=(term,), daemon=True)
            runner.start()
            wait_for("the initial sync", lambda: "default/web" in synced)
            term.set()
            runner.join(5)
            assert not runner.is_alive()
        assert first.store.keys() == ["default/web"] and first.store.by_index("node", "n") == []
    finally:
        stop.set()


def test_the_controllers_informers_hold_no_managed_fields_and_updates_keep_them(
    api: Api, app: Any
) -> None:
    """As kube-scheduler's caches (TransformStripManagedFields): the in-process informers'
    copies leave managedFields out, the store keeps them, and an update made from a copy (as a
    controller makes one) leaves them in place."""
    registry = app.extensions["tinykube"]["registry"]
    assert api.call("POST", PODS_PATH, pod_manifest("listed"))[0] == 201
    informer = Informer(StoreSource(registry.store, PODS))
    stop = threading.Event()
    thread = informer.start(stop)
    try:
        assert informer.wait_for_sync(10)
        assert api.call("POST", PODS_PATH, pod_manifest("watched"))[0] == 201
        wait_for("the watched pod", lambda: informer.store.get("default/watched") is not None)
        for name in ("listed", "watched"):
            copy = informer.store.get(f"default/{name}")
            assert copy is not None and "managedFields" not in copy["metadata"]
            stored = api.call("GET", f"{PODS_PATH}/{name}")[1]
            assert stored["metadata"]["managedFields"], "the store keeps them"
        listed, watched = (informer.store.get(f"default/{n}") for n in ("listed", "watched"))
        assert listed is not None and watched is not None
        # Decoded apart, their equal short strings are one object (share_strings).
        assert listed["metadata"]["namespace"] is watched["metadata"]["namespace"]
        assert listed["spec"]["containers"][0]["image"] is watched["spec"]["containers"][0]["image"]
        copy = informer.store.get("default/watched")
        assert copy is not None
        changed = {**copy, "metadata": {**copy["metadata"], "labels": {"app": "relabelled"}}}
        registry.replace(PODS, "default", "watched", changed)
        after = api.call("GET", f"{PODS_PATH}/watched")[1]
        assert after["metadata"]["labels"] == {"app": "relabelled"}
        assert {e["manager"] for e in after["metadata"]["managedFields"]} >= {
            e["manager"] for e in stored["metadata"]["managedFields"]
        }
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_a_trimmed_cache_serves_no_managed_fields_and_status_writes_keep_them(
    api: Api, app: Any
) -> None:
    """The controller process's registry (``WatchCache(trim=...)``): its cached reads have no
    managedFields, and a status write naming a resourceVersion, which an untrimmed cache would
    base on its object, reads the store instead and keeps every manager's entry."""
    from control.cache import WatchCache
    from control.registry.registry import Registry

    store = app.extensions["tinykube"]["registry"].store
    trimmed = Registry(store, cache=WatchCache(store, trim=frozenset({"pods"})))
    assert api.call("POST", PODS_PATH, pod_manifest("trimmed"))[0] == 201
    stored = api.call("GET", f"{PODS_PATH}/trimmed")[1]
    assert stored["metadata"]["managedFields"]
    cached = trimmed.get(PODS, "default", "trimmed", cached=True)
    assert "managedFields" not in cached["metadata"]
    listed = trimmed.list(PODS, "default")["items"]
    assert [p["metadata"]["name"] for p in listed] == ["trimmed"]
    assert "managedFields" not in listed[0]["metadata"]
    status = {**cached, "status": {**cached.get("status", {}), "message": "seen"}}
    written = trimmed.replace(PODS, "default", "trimmed", status, sub="status")
    assert written["status"]["message"] == "seen"
    after = api.call("GET", f"{PODS_PATH}/trimmed")[1]
    managers = {e["manager"] for e in after["metadata"]["managedFields"]}
    assert managers >= {e["manager"] for e in stored["metadata"]["managedFields"]}
    trimmed.cache.stop()


def test_a_bind_through_a_trimmed_cache_keeps_managed_fields_and_loads_no_pods(
    api: Api, app: Any
) -> None:
    """The scheduler binds through the controller process's registry: the bound pod keeps
    every manager's entry (a trimmed cache's pod written back whole would drop them), and no
    watch cache of pods is loaded for it (the process's informers hold the pods already)."""
    store = app.extensions["tinykube"]["registry"].store
    trimmed = Registry(store, cache=WatchCache(store, trim=frozenset({"pods"})))
    assert api.call("POST", PODS_PATH, pod_manifest("to-bind"))[0] == 201
    stored = api.call("GET", f"{PODS_PATH}/to-bind")[1]
    assert stored["metadata"]["managedFields"]
    trimmed.bind("default", "to-bind", {"target": {"kind": "Node", "name": "n1"}})
    after = api.call("GET", f"{PODS_PATH}/to-bind")[1]
    assert after["spec"]["nodeName"] == "n1"
    assert after["metadata"]["managedFields"] == stored["metadata"]["managedFields"]
    assert "pods" not in trimmed.cache._cachers
    trimmed.cache.stop()


EVENTS = must("events")
PDBS = must("poddisruptionbudgets")
EVENTS_PATH = "/api/v1/namespaces/default/events"


def event_manifest(name: str, reason: str = "Started") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web"},
        "reason": reason,
        "message": "a long message the informer does not keep",
        "type": "Normal",
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "count": 1,
    }


def test_the_events_informer_reads_the_store_and_no_watch_cache_holds_events(
    api: Api, app: Any
) -> None:
    """The controllers' informers are fed from the store's list and log: the events informer
    follows creates, updates and deletes, keeps what the controllers read of an Event, and the
    process's watch cache never loads the Events (kube-apiserver keeps none of them at all)."""
    registry = app.extensions["tinykube"]["registry"]
    assert api.call("POST", EVENTS_PATH, event_manifest("before"))[0] == 201
    informers = SharedInformers(registry)
    informer = informers.informer("events")
    seen: list[tuple[str, str]] = []
    informer.add_handler(
        Handler(
            lambda o: seen.append(("add", o["metadata"]["name"])),
            lambda _old, o: seen.append(("update", o["lastTimestamp"])),
            lambda o: seen.append(("delete", o["metadata"]["name"])),
        )
    )
    stop = threading.Event()
    informers.start(stop)
    try:
        assert informers.wait_for_sync(stop, 10)
        assert informer.store.keys() == ["default/before"]
        assert api.call("POST", EVENTS_PATH, event_manifest("later"))[0] == 201
        wait_for("the new event", lambda: ("add", "later") in seen)
        again = {"lastTimestamp": "2026-01-01T00:05:00Z", "count": 2}
        code, _ = api.call("PATCH", f"{EVENTS_PATH}/later", again,
                           content_type="application/merge-patch+json")  # fmt: skip
        assert code == 200
        wait_for("the event seen again", lambda: ("update", "2026-01-01T00:05:00Z") in seen)
        assert api.call("DELETE", f"{EVENTS_PATH}/before")[0] == 200
        wait_for("the delete", lambda: ("delete", "before") in seen)
        kept = informer.store.get("default/later")
        assert kept is not None and kept["lastTimestamp"] == "2026-01-01T00:05:00Z"
        assert "message" not in kept and "involvedObject" not in kept  # a sighting
    finally:
        stop.set()
    assert seen[:2] == [("add", "before"), ("add", "later")]
    assert "events" not in registry.cache._cachers


def test_a_store_fed_informer_lists_again_once_the_log_is_trimmed_past_it(
    redis_url: str, key_prefix: str
) -> None:
    store = RedisStore(redis_url, prefix=key_prefix, history=50)
    try:
        source = StoreSource(store, EVENTS)
        store.create("events", event_manifest("first"))
        items, rv = source.list_all()
        assert [i["metadata"]["name"] for i in items] == ["first"]
        for i in range(400):  # well past the history (50) and the trim's slack
            store.create("events", event_manifest(f"e{i}"))
        with pytest.raises(errors.GoneError):
            next(source.watch(rv, threading.Event()))
    finally:
        store.close()


def readers_hear_a_change(store: RedisStore, within: float) -> bool:
    """The controller process's stream readers at their most: a watch cache of every resource,
    then an informer of every resource; whether the budgets' informer hears a new budget within
    ``within`` seconds."""
    registry = Registry(store, cache=WatchCache(store))
    registry.ensure_namespaces()
    for rt in RESOURCES:
        registry.cache.cacher(rt)
    time.sleep(0.5)  # every cache's reader is in its XREAD
    informers = SharedInformers(registry)
    for rt in RESOURCES:
        informers.informer(rt.plural)
    stop = threading.Event()
    informers.start(stop)
    try:
        assert informers.wait_for_sync(stop, 10)
        time.sleep(0.5)  # every informer is watching, or waiting for a connection to watch on
        pdb = {"metadata": {"name": "budget"}, "spec": {"minAvailable": 1, "selector": {}}}
        registry.create(PDBS, "default", pdb)
        pdbs = informers.informer("poddisruptionbudgets").store
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if pdbs.get("default/budget") is not None:
                return True
            time.sleep(0.05)
        return False
    finally:
        stop.set()
        registry.cache.stop()


def test_the_controller_process_has_a_stream_connection_for_each_reader(
    redis_url: str, key_prefix: str
) -> None:
    """One informer and one watch cache per resource each hold a stream connection while their
    XREAD blocks: the controller process's pool has room for all of them, so no informer waits
    for another's block to end (with a pool of 32, some waited for minutes)."""
    assert 2 * len(RESOURCES) <= STREAM_CONNECTIONS
    store = RedisStore(redis_url, prefix=key_prefix, stream_connections=STREAM_CONNECTIONS)
    try:
        assert readers_hear_a_change(store, within=3.0)
    finally:
        store.close()
