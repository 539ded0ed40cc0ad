"""Leader election: loops run only during a leadership term and stop when the lease is lost."""

from __future__ import annotations

import threading
import time
from typing import Any

from common import meta
from control.manager import LEADER_LEASE, Manager
from control.memory_store import MemoryStore
from control.registry.registry import Registry


class RecordingLoop:
    name = "recorder"

    def __init__(self) -> None:
        self.terms = 0
        self.running = threading.Event()

    def run(self, stop: threading.Event) -> None:
        self.terms += 1
        self.running.set()
        stop.wait()
        self.running.clear()


def wait(what: str, check: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.05)


def steal_lease(store: MemoryStore, holder: str) -> None:
    ns, name = LEADER_LEASE
    lease = store.get("leases", ns, name)
    lease["spec"]["holderIdentity"] = holder
    lease["spec"]["renewTime"] = meta.micro_timestamp(meta.now())
    lease["spec"]["leaseDurationSeconds"] = 60
    store.update("leases", lease)


def test_loops_run_only_while_leading() -> None:
    store = MemoryStore()
    Registry(store).ensure_namespaces()
    loop = RecordingLoop()
    manager = Manager(Registry(store), identity="me", loops=[loop])  # type: ignore[list-item]
    manager.start()
    try:
        wait("first term", loop.running.is_set)
        assert loop.terms == 1
        steal_lease(store, "someone-else")
        wait("loop stopped after losing the lease", lambda: not loop.running.is_set())
        assert not manager.leading.is_set()
        # A second manager cannot lead while the other holder's lease is fresh.
        other = RecordingLoop()
        second = Manager(Registry(store), identity="second", loops=[other])  # type: ignore[list-item]
        second.start()
        time.sleep(2.5)
        assert not other.running.is_set()
        second.shutdown()
        # The holder goes away (its lease expires): we lead again, in a new term.
        ns, name = LEADER_LEASE
        lease = store.get("leases", ns, name)
        lease["spec"]["renewTime"] = meta.micro_timestamp(meta.now().replace(year=2000))
        store.update("leases", lease)
        wait("second term", lambda: loop.running.is_set() and loop.terms == 2)
    finally:
        manager.shutdown()
    wait("loop stopped on shutdown", lambda: not loop.running.is_set())
