"""Reads served from the watch cache: admission's lookups (the Namespace a create goes into, a
pod's ServiceAccount), as Kubernetes' plugins read their listers, and a GET at
resourceVersion=0; each from the store when the cache does not have the object yet."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from common import errors
from common.resources import must
from control.memory_store import MemoryStore
from control.registry.registry import Registry
from control.store import WatchEvent

PODS, NAMESPACES, EVENTS = must("pods"), must("namespaces"), must("events")


def pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "i"}]}}


class CountingStore(MemoryStore):
    """Counts the single-object reads of each resource."""

    def __init__(self) -> None:
        super().__init__()
        self.gets: dict[str, int] = {}

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        self.gets[resource] = self.gets.get(resource, 0) + 1
        return super().get(resource, namespace, name)


class StuckLog(CountingStore):
    """A store whose change log never delivers anything: its cache never moves."""

    def watch(
        self, resource: str, since: int, *, poll: float = 5.0, until: float | None = None
    ) -> Iterator[WatchEvent | None]:
        while True:
            time.sleep(poll / 10)
            yield None


class FreezingLog(CountingStore):
    """A store whose change log stops delivering once ``frozen`` is set."""

    frozen = False

    def watch(
        self, resource: str, since: int, *, poll: float = 5.0, until: float | None = None
    ) -> Iterator[WatchEvent | None]:
        for event in super().watch(resource, since, poll=poll, until=until):
            while self.frozen:
                time.sleep(poll / 10)
                yield None
            yield event


def wait_cached(registry: Registry, namespace: str) -> None:
    cacher = registry.cache.cacher(NAMESPACES)
    deadline = time.monotonic() + 5
    while cacher.peek("", namespace) is None:
        assert time.monotonic() < deadline, "the cache never caught up"
        time.sleep(0.01)


def test_creates_in_a_cached_namespace_do_not_read_it_from_the_store() -> None:
    store = CountingStore()
    registry = Registry(store)
    registry.create(NAMESPACES, "", {"metadata": {"name": "team"}})
    wait_cached(registry, "team")
    before = store.gets.get("namespaces", 0)
    for i in range(5):
        registry.create(PODS, "team", pod(f"p{i}"))
    assert store.gets.get("namespaces", 0) == before
    registry.cache.stop()


def test_a_namespace_the_cache_has_not_seen_yet_is_read_from_the_store() -> None:
    store = StuckLog()
    registry = Registry(store)
    wait_cached_start = registry.cache.cacher(NAMESPACES)  # loaded now; it never moves again
    assert wait_cached_start.peek("", "late") is None
    registry.create(NAMESPACES, "", {"metadata": {"name": "late"}})
    created, _ = registry.create(PODS, "late", pod("p"))
    assert created["metadata"]["namespace"] == "late"
    with pytest.raises(errors.NotFoundError, match='namespaces "nowhere" not found'):
        registry.create(PODS, "nowhere", pod("p"))
    registry.cache.stop()


def test_a_terminating_namespace_in_the_cache_refuses_creates() -> None:
    store = CountingStore()
    registry = Registry(store)
    registry.create(NAMESPACES, "", {"metadata": {"name": "going"}})
    registry.create(PODS, "going", pod("keeps"))  # content keeps it terminating
    registry.delete(NAMESPACES, "", "going", {})
    cacher = registry.cache.cacher(NAMESPACES)
    deadline = time.monotonic() + 5
    while ((cacher.peek("", "going") or {}).get("status") or {}).get("phase") != "Terminating":
        assert time.monotonic() < deadline, "the cache never saw the deletion"
        time.sleep(0.01)
    with pytest.raises(errors.ForbiddenError, match="because it is being terminated"):
        registry.create(PODS, "going", pod("new"))
    registry.cache.stop()


def test_a_get_at_revision_zero_is_the_cache_s_object() -> None:
    store = FreezingLog()
    registry = Registry(store)
    registry.create(NAMESPACES, "", {"metadata": {"name": "early", "labels": {"v": "1"}}})
    wait_cached(registry, "early")
    store.frozen = True  # the cache keeps v=1 from now on
    current = registry.get(NAMESPACES, "", "early")
    current["metadata"]["labels"] = {"v": "2"}
    registry.replace(NAMESPACES, "", "early", current)
    assert registry.get(NAMESPACES, "", "early")["metadata"]["labels"]["v"] == "2"
    cached = registry.get(NAMESPACES, "", "early", cached=True)
    assert cached["metadata"]["labels"]["v"] == "1"
    registry.create(NAMESPACES, "", {"metadata": {"name": "late"}})  # not in the cache
    assert registry.get(NAMESPACES, "", "late", cached=True)["metadata"]["name"] == "late"
    with pytest.raises(errors.NotFoundError):
        registry.get(NAMESPACES, "", "nowhere", cached=True)
    registry.cache.stop()
