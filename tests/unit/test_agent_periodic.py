"""The agent's periodic loops as values: the wait after each call, the back-off after failures."""

from __future__ import annotations

from agent.periodic import ERROR_BACKOFF_MAX, ERROR_BACKOFF_MIN, Periodic


def test_a_call_that_succeeds_waits_the_interval() -> None:
    calls = []
    loop = Periodic("lease", 2.0, lambda: calls.append(1))
    assert [loop.tick(), loop.tick()] == [2.0, 2.0]
    assert calls == [1, 1] and loop.failures == 0


def test_failures_back_off_up_to_the_interval_and_a_success_resets() -> None:
    ok = False

    def renew() -> None:
        if not ok:
            raise OSError("refused")

    loop = Periodic("lease", 2.0, renew)
    waits = [loop.tick() for _ in range(6)]
    assert waits[0] == ERROR_BACKOFF_MIN
    assert waits == sorted(waits) and waits[-1] == 2.0 < ERROR_BACKOFF_MAX
    assert loop.failures == 6
    ok = True
    assert loop.tick() == 2.0
    ok = False
    assert loop.tick() == ERROR_BACKOFF_MIN


def test_an_interval_given_as_a_function_is_read_after_each_call() -> None:
    pace = [2.0]
    loop = Periodic("lease", lambda: pace[0], lambda: None)
    assert loop.tick() == 2.0
    pace[0] = 10.0
    assert loop.tick() == 10.0
