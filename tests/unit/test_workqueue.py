"""WorkQueue: dedup, one worker per key, delayed re-adds; RateLimitedQueue: per-key back-off."""

from __future__ import annotations

import re
import threading

from prometheus_client import generate_latest

from common import metrics
from common.workqueue import RateLimitedQueue, WorkQueue


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_duplicates_are_handed_out_once() -> None:
    q = WorkQueue()
    for key in ("a", "b", "a", "a"):
        q.add(key)
    assert len(q) == 2
    assert q.get(0) == "a"
    assert q.get(0) == "b"
    assert q.get(0) is None


def test_a_key_in_progress_is_not_handed_to_a_second_worker() -> None:
    q = WorkQueue()
    q.add("a")
    assert q.get(0) == "a"
    q.add("a")  # changed while being processed
    assert q.get(0) is None
    q.done("a")
    assert q.get(0) == "a"  # processed again once the first worker is done
    assert not q.idle()
    q.done("a")
    assert q.get(0) is None
    assert q.idle()


def test_add_after_waits_for_its_time() -> None:
    clock = Clock()
    q = WorkQueue(clock)
    q.add_after("a", 5)
    q.add_after("b", 0)
    assert q.get(0) == "b"
    assert q.get(0) is None
    clock.now += 5
    assert q.get(0) == "a"


def test_shutdown_wakes_blocked_workers() -> None:
    q = WorkQueue()
    got: list[str | None] = []
    t = threading.Thread(target=lambda: got.append(q.get()))
    t.start()
    q.shutdown()
    t.join(timeout=5)
    assert not t.is_alive() and got == [None]


def test_failed_keys_come_back_after_a_doubling_back_off() -> None:
    clock = Clock()
    q = RateLimitedQueue(clock, base_delay=1.0, max_delay=5.0)
    q.add_rate_limited("a")
    assert q.get(0) is None  # not before its back-off
    clock.now += 1.0
    assert q.get(0) == "a"
    q.done("a")
    assert [q.when("a") for _ in range(4)] == [2.0, 4.0, 5.0, 5.0]
    assert q.num_requeues("a") == 5
    q.forget("a")
    assert q.num_requeues("a") == 0
    assert q.when("a") == 1.0
    assert q.when("b") == 1.0  # per key


def test_a_named_queue_reports_client_go_metrics() -> None:
    def value(name: str) -> float:
        text = generate_latest(metrics.REGISTRY).decode()
        m = re.search(rf'^{name}{{name="probe-queue"}} (\S+)$', text, re.M)
        return float(m.group(1)) if m else 0.0

    q = WorkQueue(name="probe-queue")
    adds = value("workqueue_adds_total")
    q.add("a")
    q.add("a")  # a duplicate is not an add
    q.add("b")
    assert value("workqueue_adds_total") - adds == 2
    assert value("workqueue_depth") == 2
    key = q.get(0)
    assert key == "a" and value("workqueue_depth") == 1
    q.done(key)
    assert value("workqueue_queue_duration_seconds_count") >= 1
    assert value("workqueue_work_duration_seconds_count") >= 1
