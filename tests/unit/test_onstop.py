"""Callbacks on a stop Event: run once it is set, not when taken back; one waiter per Event."""

from __future__ import annotations

import threading
import time

import pytest

from common import onstop


def wait_until(check: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def waiters() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "on-stop")


def test_callbacks_run_once_the_event_is_set_unless_taken_back() -> None:
    stop = threading.Event()
    ran: list[str] = []
    before = waiters()
    onstop.on_stop(stop, lambda: ran.append("a"))
    take_back = onstop.on_stop(stop, lambda: ran.append("b"))
    onstop.on_stop(stop, lambda: ran.append("c"))
    assert waiters() == before + 1  # one waiter for the Event, whatever the callbacks
    take_back()
    assert ran == []
    stop.set()
    wait_until(lambda: sorted(ran) == ["a", "c"])
    wait_until(lambda: waiters() == before)


def test_an_event_already_set_runs_the_callback_at_once() -> None:
    stop = threading.Event()
    stop.set()
    ran = threading.Event()
    onstop.on_stop(stop, ran.set)
    assert ran.wait(5)


def test_a_waiter_with_nothing_left_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onstop, "LINGER", 0.05)
    stop = threading.Event()
    before = waiters()
    onstop.on_stop(stop, lambda: None)()
    wait_until(lambda: waiters() == before)
    ran = threading.Event()
    onstop.on_stop(stop, ran.set)  # a new waiter
    stop.set()
    assert ran.wait(5)


def test_a_stop_event_runs_its_callbacks_when_set_without_a_waiter() -> None:
    stop = onstop.StopEvent()
    ran: list[str] = []
    before = waiters()
    onstop.on_stop(stop, lambda: ran.append("a"))
    take_back = onstop.on_stop(stop, lambda: ran.append("b"))
    assert waiters() == before  # no thread waits on it
    take_back()
    stop.set()
    assert ran == ["a"]  # run by set() itself, once
    stop.set()
    assert ran == ["a"]
    onstop.on_stop(stop, lambda: ran.append("late"))  # already set: at once
    assert ran == ["a", "late"]
    assert stop.is_set() and stop.wait(0)
