"""The controller runner: keys from handlers reach sync(key) once per change batch, a failing
sync is retried with the key's back-off and forgotten once it succeeds, a key is never synced by
two workers at once, and the workers end with ``stop``."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

from common import errors
from common.controller import Controller
from common.workqueue import RateLimitedQueue


def wait_for(check: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def obj(name: str, ns: str = "default") -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": "1"}}


def test_a_failing_sync_is_retried_with_back_off_then_forgotten() -> None:
    calls: list[float] = []

    def sync(key: str) -> None:
        calls.append(time.monotonic())
        if len(calls) < 4:
            raise errors.ConflictError("the object has been modified")

    queue = RateLimitedQueue(base_delay=0.02, max_delay=1.0)
    c = Controller("test", sync, queue=queue)
    stop = threading.Event()
    threads = c.start(stop)
    try:
        handler = c.handler()  # what an informer calls
        assert handler.on_add is not None
        handler.on_add(obj("a"))
        wait_for(lambda: len(calls) == 4 and queue.idle())
        gaps = [b - a for a, b in itertools.pairwise(calls)]
        assert all(g >= d * 0.9 for g, d in zip(gaps, (0.02, 0.04, 0.08), strict=True)), gaps
        assert queue.num_requeues("default/a") == 0
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    assert not any(t.is_alive() for t in threads)


def test_an_error_retrying_cannot_fix_is_not_retried() -> None:
    calls: list[str] = []

    def sync(key: str) -> None:
        calls.append(key)
        raise errors.InvalidError("spec.replicas: Invalid value: -1")

    c = Controller("test", sync)
    stop = threading.Event()
    threads = c.start(stop)
    try:
        c.enqueue(obj("a"))
        wait_for(lambda: calls == ["default/a"] and c.queue.idle())
        time.sleep(0.1)
        assert calls == ["default/a"]
    finally:
        stop.set()
        for t in threads:
            t.join(5)


def test_one_key_is_never_synced_by_two_workers_at_once() -> None:
    started = threading.Event()
    release = threading.Event()
    synced: list[str] = []

    def sync(key: str) -> None:
        synced.append(key)
        if len(synced) == 1:
            started.set()
            assert release.wait(5)

    c = Controller("test", sync, workers=4)
    stop = threading.Event()
    threads = c.start(stop)
    try:
        c.enqueue(obj("a"))
        assert started.wait(5)
        # Twenty changes while the first sync runs: three idle workers, yet no second sync of
        # the key until the first is done, then one sync for all twenty.
        for _ in range(20):
            c.enqueue(obj("a"))
        time.sleep(0.1)
        assert synced == ["default/a"]
        release.set()
        wait_for(lambda: c.queue.idle() and len(c.queue) == 0 and len(synced) == 2)
        time.sleep(0.05)
        assert synced == ["default/a", "default/a"]
    finally:
        stop.set()
        for t in threads:
            t.join(5)
