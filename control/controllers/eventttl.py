"""Events expire: an Event not seen again for an hour (kube-apiserver's ``--event-ttl``) is
deleted, so a long-running cluster's event list does not grow without end. ``expired`` is pure;
the loop is a shell that sweeps every minute."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from common import errors, meta
from common.resources import must
from control.controllers.passes import run_passes
from control.registry.registry import Registry

log = logging.getLogger(__name__)

EVENTS = must("events")
# Kubernetes keeps events one hour by default.
DEFAULT_TTL = dt.timedelta(hours=1)
SWEEP_SECONDS = 60.0

Obj = dict[str, Any]


def last_seen(event: Obj) -> dt.datetime | None:
    """When the event last happened (``lastTimestamp``, else ``eventTime`` or creation)."""
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        when = meta.parse_time(event.get(key))
        if when is not None:
            return when
    return meta.parse_time((event.get("metadata") or {}).get("creationTimestamp"))


def expired(events: Iterable[Obj], now: dt.datetime, ttl: dt.timedelta) -> list[Obj]:
    """The events last seen more than ``ttl`` before ``now``."""
    out = []
    for event in events:
        when = last_seen(event)
        if when is not None and now - when > ttl:
            out.append(event)
    return out


class EventCollector:
    name = "event-ttl"
    watches: tuple[str, ...] = ()

    def __init__(
        self,
        registry: Registry,
        ttl: dt.timedelta = DEFAULT_TTL,
        clock: Callable[[], dt.datetime] = meta.now,
    ) -> None:
        self.registry = registry
        self.ttl = ttl
        self.clock = clock
        self.wake = threading.Event()

    def run(self, stop: threading.Event) -> None:
        run_passes(self.name, self.sweep, self.wake, stop, SWEEP_SECONDS)

    def sweep(self) -> None:
        events = self.registry.list(EVENTS, "")["items"]
        gone = 0
        for event in expired(events, self.clock(), self.ttl):
            m = event["metadata"]
            try:
                self.registry.delete(EVENTS, m["namespace"], m["name"], {})
                gone += 1
            except errors.NotFoundError:
                continue
        if gone:
            log.info("event-ttl: %d expired events deleted", gone)
