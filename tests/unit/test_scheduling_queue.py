"""The scheduling queue on a hand-driven clock: priority then FIFO order, de-duplication, the
back-off of failed pods, and the moves of unschedulable pods on events or after 5 minutes."""

from __future__ import annotations

from typing import Any

import pytest

from control.scheduling_queue import (
    MAX_UNSCHEDULABLE_SECONDS,
    SchedulingQueue,
    backoff_seconds,
    updated,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pod(name: str, priority: int | None = None, rv: str = "1", **labels: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "i"}]}
    if priority is not None:
        spec["priority"] = priority
    return {
        "metadata": {"name": name, "namespace": "default", "resourceVersion": rv,
                     "labels": labels},
        "spec": spec,
        "status": {"phase": "Pending"},
    }  # fmt: skip


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(clock: Clock) -> SchedulingQueue:
    return SchedulingQueue(clock)


def names(queue: SchedulingQueue) -> list[str]:
    """Pop everything activeQ holds now, in order."""
    out = []
    while (info := queue.pop(0)) is not None:
        out.append(info.pod["metadata"]["name"])
        queue.done(info)
    return out


def test_priority_first_then_first_in_first_out(queue: SchedulingQueue, clock: Clock) -> None:
    for name, prio in (("a", None), ("b", 10), ("c", 0), ("d", 10), ("e", -5)):
        queue.add(pod(name, prio))
        clock.now += 1
    assert names(queue) == ["b", "d", "a", "c", "e"]


def test_a_pod_is_queued_once(queue: SchedulingQueue) -> None:
    queue.add(pod("a"))
    queue.add(pod("a", rv="2"))
    queue.update(pod("a", rv="2"), pod("a", rv="3"))
    info = queue.pop(0)
    assert info is not None and info.pod["metadata"]["resourceVersion"] == "3"
    assert queue.pop(0) is None
    queue.add(pod("a", rv="4"))  # in flight: the newer object only
    assert queue.pop(0) is None
    assert queue.counts()["in-flight"] == 1
    queue.done(info)
    assert queue.counts() == {"active": 0, "backoff": 0, "unschedulable": 0, "in-flight": 0}


def test_a_raised_priority_reorders_active_pods(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pod("a"))
    clock.now += 1
    queue.add(pod("b"))
    queue.update(pod("b"), pod("b", 5, rv="2"))
    assert names(queue) == ["b", "a"]


def test_deleted_pods_leave_every_part(queue: SchedulingQueue) -> None:
    queue.add(pod("a"))
    queue.add(pod("b"))
    queue.delete(pod("a"))
    info = queue.pop(0)
    assert info is not None and info.key == "default/b"
    queue.delete(pod("b"))
    queue.requeue_unschedulable(info)  # its attempt ends after the delete: not queued again
    assert queue.where("default/b") is None and queue.pop(0) is None


def test_backoff_doubles_from_one_to_ten_seconds() -> None:
    assert [backoff_seconds(n) for n in range(7)] == [0, 1, 2, 4, 8, 10, 10]


def test_an_unschedulable_pod_waits_for_an_event(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pod("a"))
    info = queue.pop(0)
    assert info is not None
    queue.requeue_unschedulable(info)
    assert queue.where("default/a") == "unschedulable"
    clock.now += 60
    assert queue.pop(0) is None  # no event: it stays put
    assert queue.move_unschedulable(lambda p: False) == 0
    assert queue.where("default/a") == "unschedulable"
    assert queue.move_unschedulable(lambda p: p["metadata"]["name"] == "a") == 1
    assert names(queue) == ["a"]  # its back-off (1 s) ended long ago: straight to activeQ


def test_a_moved_pod_still_backing_off_goes_to_backoff(
    queue: SchedulingQueue, clock: Clock
) -> None:
    queue.add(pod("a"))
    for attempt in (1, 2):
        info = queue.pop(0)
        assert info is not None and info.attempts == attempt
        queue.requeue_unschedulable(info)
        queue.move_unschedulable(lambda p: True)
        assert queue.where("default/a") == "backoff"
        assert queue.pop(0) is None
        clock.now += backoff_seconds(attempt) - 0.01
        assert queue.pop(0) is None
        clock.now += 0.02
    assert names(queue) == ["a"]


def test_an_event_during_the_attempt_sends_it_to_backoff(
    queue: SchedulingQueue, clock: Clock
) -> None:
    """A node added while the pod was being scheduled may have come too late for the attempt:
    the pod is tried again after its back-off instead of waiting in unschedulablePods."""
    queue.add(pod("a"))
    info = queue.pop(0)
    assert info is not None
    queue.move_unschedulable(lambda p: True)
    queue.requeue_unschedulable(info)
    assert queue.where("default/a") == "backoff"
    clock.now += 1
    assert names(queue) == ["a"]


def test_a_narrow_event_during_attempts_marks_only_the_pods_it_could_help(
    queue: SchedulingQueue, clock: Clock
) -> None:
    """A bound pod matters to pods with inter-pod rules only: a plain pod failing meanwhile still
    waits for an event of its own."""
    queue.add(pod("plain"))
    plain = queue.pop(0)
    assert plain is not None
    queue.move_pods(["default/picky"])
    queue.requeue_unschedulable(plain)
    assert queue.where("default/plain") == "unschedulable"
    queue.add(pod("picky"))
    picky = queue.pop(0)
    assert picky is not None
    queue.move_pods(["default/picky"])
    queue.requeue_unschedulable(picky)
    assert queue.where("default/picky") == "backoff"
    clock.now += 10
    assert queue.move_pods(["default/picky", "default/plain", "default/gone"]) == 1
    assert queue.where("default/plain") == "active"


def test_an_update_moves_an_unschedulable_pod_but_not_its_status(
    queue: SchedulingQueue, clock: Clock
) -> None:
    queue.add(pod("a"))
    info = queue.pop(0)
    assert info is not None
    queue.requeue_unschedulable(info)
    with_status = pod("a", rv="2")
    with_status["status"]["conditions"] = [{"type": "PodScheduled", "status": "False"}]
    queue.update(pod("a"), with_status)
    assert queue.where("default/a") == "unschedulable"
    queue.update(with_status, pod("a", rv="3", tier="web"))
    assert queue.where("default/a") == "backoff"
    clock.now += 1
    assert names(queue) == ["a"]


def test_pods_left_unschedulable_are_retried_after_five_minutes(
    queue: SchedulingQueue, clock: Clock
) -> None:
    queue.add(pod("a"))
    info = queue.pop(0)
    assert info is not None
    queue.requeue_unschedulable(info)
    clock.now += MAX_UNSCHEDULABLE_SECONDS - 1
    assert queue.pop(0) is None
    clock.now += 31  # the leftover flush looks every 30 s
    assert names(queue) == ["a"]


def test_a_failed_bind_backs_off_unless_the_pod_is_queued_again(
    queue: SchedulingQueue, clock: Clock
) -> None:
    queue.add(pod("a"))
    info = queue.pop(0)
    assert info is not None
    queue.done(info)  # assumed; the bind is written meanwhile
    queue.requeue_after_error(info)
    assert queue.where("default/a") == "backoff"
    clock.now += 1
    again = queue.pop(0)
    assert again is info and info.attempts == 2
    queue.done(info)
    queue.add(pod("a", rv="5"))  # an event queued it again before the bind failed
    queue.requeue_after_error(info)
    assert queue.where("default/a") == "active"


def test_pop_waits_for_the_end_of_a_backoff() -> None:
    queue = SchedulingQueue()  # the real clock
    queue.add(pod("a"))
    info = queue.pop(0)
    assert info is not None
    queue.requeue_after_error(info)
    again = queue.pop(5.0)  # 1 s of back-off, then activeQ
    assert again is info


def test_updated_ignores_status_and_bookkeeping() -> None:
    a = pod("a")
    b = pod("a", rv="9")
    b["metadata"]["managedFields"] = [{}]
    b["status"] = {"phase": "Pending", "conditions": []}
    assert not updated(a, b)
    assert updated(a, pod("a", tier="x"))
