"""Noticing that this agent was cut off from the control plane (a network partition, a stopped
process, a suspended machine): a lease renewal that succeeds after failing, or long after the one
before. Meanwhile the node may have been declared lost and its pods deleted and replaced on other
nodes, and the pod watch may be stale or dead; so the agent relists at once rather than at its next
periodic resync, and removes the containers of pods no longer bound here within moments of
reconnecting. Pure bookkeeping around a callable, with an injectable monotonic clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class ReconnectDetector:
    """Wraps the lease renewal; calls ``on_reconnect`` after a renewal that ends a gap."""

    def __init__(
        self,
        interval: float,
        on_reconnect: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.set_interval(interval)
        self.on_reconnect = on_reconnect
        self.clock = clock
        self.last_ok: float | None = None
        self.failing = False
        self.reconnects = 0

    def set_interval(self, interval: float) -> None:
        """The renew interval now in force (the API server may hand out another)."""
        # A renewal this long after the previous one means the agent was not running or not
        # heard: two missed renewals (plus a second of slack for a slow API server).
        self.max_gap = 2 * interval + 1.0

    def wrap(self, renew: Callable[[], T]) -> Callable[[], T]:
        def run() -> T:
            try:
                out = renew()
            except Exception:
                self.failing = True
                raise
            now = self.clock()
            gap = self.last_ok is not None and now - self.last_ok > self.max_gap
            reconnected = self.failing or gap
            self.failing, self.last_ok = False, now
            if reconnected:
                self.reconnects += 1
                self.on_reconnect()
            return out

        return run
