"""The watch cache as a process that forks the API workers reads through it: within
``snapshots()`` reads are served from the store's objects, fresh after each write, and no cache
(no reader thread) is started."""

from __future__ import annotations

import threading

from common.resources import must
from control.memory_store import MemoryStore
from control.registry.defaultpriority import ensure_system_priority_classes
from control.registry.defaultservices import ensure_default_services
from control.registry.registry import Registry

CONFIG_MAPS = must("configmaps")
PRIORITY_CLASSES = must("priorityclasses")


def readers() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("watch-cache-")]


def test_start_up_writes_within_snapshots_start_no_cache() -> None:
    before = readers()
    registry = Registry(MemoryStore())
    with registry.cache.snapshots():
        registry.ensure_namespaces()
        ensure_default_services(registry, 6443)
        ensure_system_priority_classes(registry)
        names = [c["metadata"]["name"] for c in registry._priority_classes()]
    assert sorted(names) == ["system-cluster-critical", "system-node-critical"]
    assert readers() == before
    assert registry.cache._cachers == {}
    # Afterwards the process's caches start on first use, as ever.
    assert registry.cache.cacher(PRIORITY_CLASSES).ready
    assert len(readers()) == len(before) + 1
    registry.cache.stop()


def test_a_snapshot_is_read_again_once_its_resource_changed() -> None:
    before = readers()
    registry = Registry(MemoryStore())
    with registry.cache.snapshots():
        registry.ensure_namespaces()
        first = registry.cache.cacher(CONFIG_MAPS)
        assert registry.cache.cacher(CONFIG_MAPS) is first  # nothing changed: not read again
        registry.create(CONFIG_MAPS, "default", {"metadata": {"name": "a"}})
        again = registry.cache.cacher(CONFIG_MAPS)
        assert again is not first
        assert again.peek("default", "a") is not None
        assert first.peek("default", "a") is None
        listed = registry.list(CONFIG_MAPS, "default")["items"]
        assert [c["metadata"]["name"] for c in listed] == ["a"]
    assert readers() == before
