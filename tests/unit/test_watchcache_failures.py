"""The watch cache when its log misbehaves: a consistent read whose cache lags reads the store, a
reader whose log read failed reads it again from where it stood."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from common import errors
from common.resources import must
from control.memory_store import MemoryStore
from control.registry import freshness
from control.registry.reads import ListOptions
from control.registry.registry import Registry
from control.store import WatchEvent

PODS = must("pods")


def pod(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "uid": f"u-{name}"},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }


def names(listing: dict[str, Any]) -> list[str]:
    return [o["metadata"]["name"] for o in listing["items"]]


class StuckLog(MemoryStore):
    """A store whose change log never delivers anything: its cache never moves."""

    def watch(
        self, resource: str, since: int, *, poll: float = 5.0, until: float | None = None
    ) -> Iterator[WatchEvent | None]:
        while True:
            time.sleep(0.02)
            yield None


class FlakyLog(MemoryStore):
    """A store whose first log read fails, as Redis restarting would."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def watch(
        self, resource: str, since: int, *, poll: float = 5.0, until: float | None = None
    ) -> Iterator[WatchEvent | None]:
        self.reads += 1
        if self.reads == 1:
            raise errors.ServiceUnavailableError("the storage backend is unavailable: restarting")
        yield from super().watch(resource, since, poll=0.05, until=until)


def test_a_consistent_read_reads_the_store_when_the_cache_lags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(freshness, "BLOCK_TIMEOUT", 0.2)
    store = StuckLog()
    registry = Registry(store)
    assert names(registry.list(PODS, "default")) == []  # the cache starts, then never moves
    store.create("pods", pod("late"))
    listing = registry.list(PODS, "default", options=ListOptions(limit=5))
    assert names(listing) == ["late"]
    assert listing["metadata"]["resourceVersion"] == str(store.revision())
    stale = registry.list(PODS, "default", options=ListOptions(resource_version="0"))
    assert names(stale) == []  # resourceVersion=0: the cache as it stands
    registry.cache.stop()


def test_a_reader_whose_log_read_failed_reads_it_again() -> None:
    store = FlakyLog()
    registry = Registry(store)
    assert names(registry.list(PODS, "default")) == []
    store.create("pods", pod("after"))
    deadline = time.monotonic() + 5
    while not names(registry.list(PODS, "default", options=ListOptions(resource_version="0"))):
        assert time.monotonic() < deadline, "the cache never caught up"
        time.sleep(0.02)
    assert store.reads >= 2
    registry.cache.stop()
