"""The watch timings both ends rely on: the API server bookmarks a quiet watch every minute
(kube-apiserver's defaultBookmarkFrequency), and the agent gives up on a pod watch that has sent
nothing for ``WATCH_IDLE_SECONDS`` (a partition drops packets without a reset) and lists again.
A node's pod watch hears nothing else while its pods do not change, so the bookmark must come
well before the agent gives up: otherwise every quiet node would list its pods again each time."""

from __future__ import annotations

from agent.loop import WATCH_IDLE_SECONDS
from control.apiserver.app import ServerConfig


def test_bookmarks_come_once_a_minute_as_kube_apiservers() -> None:
    assert ServerConfig().watch_poll == 60.0


def test_a_quiet_pod_watch_gets_its_bookmark_well_before_the_agent_gives_up_on_it() -> None:
    # Half the interval again of slack for a loaded server and the agent's own lag.
    assert 1.5 * ServerConfig().watch_poll <= WATCH_IDLE_SECONDS
