"""The watch timings both ends rely on: the API server bookmarks a quiet watch every minute
(kube-apiserver's defaultBookmarkFrequency), and the agent gives up on a pod watch that has sent
nothing for ``WATCH_IDLE_SECONDS`` (a partition drops packets without a reset) and lists again.
A node's pod watch hears nothing else while its pods do not change, so the bookmark must come
well before the agent gives up: otherwise every quiet node would list its pods again each time.
And each watch lasts 5 to 10 min at random, as client-go's reflector picks its timeout, so that
the watches of nodes started together do not all end and come back at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from agent.loop import WATCH_IDLE_SECONDS, WATCH_TIMEOUT_SECONDS
from common.informer import WATCH_SECONDS, ApiListerWatcher, watch_timeout
from common.resources import must
from control.apiserver.app import ServerConfig


def test_bookmarks_come_once_a_minute_as_kube_apiservers() -> None:
    assert ServerConfig().watch_poll == 60.0


def test_a_quiet_pod_watch_gets_its_bookmark_well_before_the_agent_gives_up_on_it() -> None:
    # Half the interval again of slack for a loaded server and the agent's own lag.
    assert 1.5 * ServerConfig().watch_poll <= WATCH_IDLE_SECONDS


def test_a_watch_timeout_is_drawn_between_the_least_and_twice_it() -> None:
    assert watch_timeout(300, lambda: 0.0) == 300
    assert watch_timeout(300, lambda: 0.5) == 450
    assert watch_timeout(300, lambda: 0.9999) == 599
    drawn = {watch_timeout(300) for _ in range(2000)}
    assert min(drawn) >= 300 and max(drawn) < 600
    assert len(drawn) > 100  # spread, not one value


def test_the_informers_and_the_agents_pod_watch_last_five_to_ten_minutes() -> None:
    assert WATCH_SECONDS == 300 and WATCH_TIMEOUT_SECONDS == 300


class AskedClient:
    """Records the timeout each watch asks the server for; the server sends nothing."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def watch(self, *_: Any, timeout_seconds: int, **__: Any) -> Iterator[Any]:
        self.asked.append(timeout_seconds)
        return iter(())


def test_each_watch_of_an_informer_asks_for_its_own_timeout() -> None:
    client = AskedClient()
    lw = ApiListerWatcher(client, must("configmaps"), "default")  # type: ignore[arg-type]
    for _ in range(50):
        list(lw.watch("1", threading.Event()))
    assert all(300 <= t < 600 for t in client.asked)
    assert len(set(client.asked)) > 10
