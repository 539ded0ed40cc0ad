"""The agent's periodic loops (lease renewal, node status, resync) as values a host can run: the
agent gives each a thread of its own, a process simulating many nodes (``bench/scale.py``) runs
them all from one timer. ``Backoff`` is the back-off of every top-level loop of the agent.
Effectful only through the function a loop calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# Back-off of the top-level loops after an error: 0.1 s doubling to 5 s, reset on success.
ERROR_BACKOFF_MIN = 0.1
ERROR_BACKOFF_MAX = 5.0


class Backoff:
    def __init__(self) -> None:
        self.delay = ERROR_BACKOFF_MIN

    def failed(self) -> float:
        delay = self.delay
        self.delay = min(self.delay * 2, ERROR_BACKOFF_MAX)
        return delay

    def reset(self) -> None:
        self.delay = ERROR_BACKOFF_MIN


@dataclass
class Periodic:
    """Call ``fn`` every ``interval`` seconds (the first call after ``first_delay``); after a
    failure the next call comes sooner, backing off from 0.1 s up to the interval. The interval
    may be a function, read after each call (a pace the API server hands out)."""

    name: str
    interval: float | Callable[[], float]
    fn: Callable[[], Any]
    first_delay: float = 0.0
    failures: int = 0  # calls that raised, for tools that watch a loop
    backoff: Backoff = field(default_factory=Backoff)

    def tick(self) -> float:
        """Call ``fn`` once; return how long to wait before the next call."""
        try:
            self.fn()
        except Exception as e:  # a loop must survive anything; it logs and backs off
            self.failures += 1
            log.warning("%s: %s", self.name, e)
            return min(self.seconds(), self.backoff.failed())
        self.backoff.reset()
        return self.seconds()

    def seconds(self) -> float:
        return self.interval() if callable(self.interval) else self.interval
