"""``threading.Event`` in the processes gevent patches (common.greenevent): a wait on an Event
already set returns True at once, even while an earlier waiter times out before it is woken.
gevent's own Event (24.11.1 to 26.9.0) loses such a wait for good: given ``gevent.event.Event()``,
``wait_after_set_while_an_earlier_waiter_times_out`` returns ``[]``."""

from __future__ import annotations

import threading
import time

import gevent
import gevent.event

from common import greenevent


def wait_after_set_while_an_earlier_waiter_times_out(event: gevent.event.Event) -> list[bool]:
    """One greenlet waits with a 1 ms timeout; in the same turn of the loop, after that
    timeout is due, another sets the Event and waits on it; what the second wait returned
    within a second (nothing: it never returned)."""
    out: list[bool] = []
    early = gevent.spawn(event.wait, 0.001)
    gevent.sleep(0)  # it waits, its timer started

    def set_then_wait() -> None:
        event.set()  # the earlier waiter's wake-up is pending
        out.append(event.wait(0.2))

    late = gevent.spawn_later(0.002, set_then_wait)
    time.sleep(0.01)  # the standard sleep: both timers are due in the loop's next turn
    late.join(1.0)
    late.kill(block=False)
    early.kill(block=False)
    return out


def test_a_wait_on_a_set_event_returns_at_once_while_an_earlier_waiter_times_out() -> None:
    for _ in range(3):
        assert wait_after_set_while_an_earlier_waiter_times_out(greenevent.Event()) == [True]


def test_the_event_is_gevents_otherwise() -> None:
    event = greenevent.Event()
    assert isinstance(event, gevent.event.Event)
    assert not event.is_set()
    assert event.wait(0.01) is False
    waiter = gevent.spawn(event.wait, 5)
    gevent.sleep(0)
    event.set()
    assert waiter.get(timeout=1) is True
    event.clear()
    assert event.wait(0) is False


def test_patch_makes_threading_event_this_one() -> None:
    before = threading.Event
    try:
        greenevent.patch()
        assert isinstance(threading.Event(), greenevent.Event)
    finally:
        threading.Event = before  # type: ignore[misc]
