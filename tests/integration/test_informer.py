"""An informer over the real API (Flask app on a real Redis, over HTTP): its cache and handlers
follow creates, updates and deletes, and its node index answers what a controller asks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from common.client import ApiClient
from common.controller import Controller
from common.informer import ApiListerWatcher, Handler, Informer, by_node_name
from common.resources import must
from control.informers import SharedInformers
from control.registry.source import RegistrySource
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


def test_an_informer_over_the_registry_in_process(api: Api, app: Any) -> None:
    """The controllers' way: the registry itself is the source, with a label selector."""
    registry = app.extensions["tinykube"]["registry"]
    informer = Informer(RegistrySource(registry, PODS, label_selector="app=web"))
    stop = threading.Event()
    thread = informer.start(stop)
    try:
        assert informer.wait_for_sync(10)
        assert informer.store.keys() == []
        assert api.call("POST", PODS_PATH, pod_manifest("web"))[0] == 201
        assert api.call("POST", PODS_PATH, pod_manifest("other"))[0] == 201
        wait_for("the web pod", lambda: informer.store.keys() == ["default/web"])
        relabel = {"metadata": {"labels": {"app": "moved"}}}
        code, _ = api.call(
            "PATCH", f"{PODS_PATH}/web", relabel, content_type="application/merge-patch+json"
        )
        assert code == 200
        wait_for("the relabelled pod to leave", lambda: informer.store.keys() == [])
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
    informer = Informer(RegistrySource(registry, PODS))
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
