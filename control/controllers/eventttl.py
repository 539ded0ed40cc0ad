"""Events expire: an Event not seen again for an hour (kube-apiserver's ``--event-ttl``) is
deleted, so a long-running cluster's event list does not grow without end. ``expired`` is pure;
the controller is a shell over the shared events informer: each event is looked at when its TTL
passes, read from the cache, and deleted through the registry."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any

from common import errors, meta
from common.controller import Controller
from common.informer import Handler, key_of
from common.resources import must
from control.informers import SharedInformers
from control.registry.registry import Registry

log = logging.getLogger(__name__)

EVENTS = must("events")
# Kubernetes keeps events one hour by default.
DEFAULT_TTL = dt.timedelta(hours=1)

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


class EventCollector(Controller):
    """Key: the event's ``namespace/name``. An event added, or seen again (a new
    ``lastTimestamp``), is enqueued for when its TTL will have passed; the sync reads it from the
    cache and deletes it if it expired, else looks again when it will have."""

    def __init__(
        self,
        registry: Registry,
        informers: SharedInformers | None = None,
        *,
        ttl: dt.timedelta = DEFAULT_TTL,
        clock: Callable[[], dt.datetime] = meta.now,
    ) -> None:
        super().__init__("event-ttl", self.sync_event, initial=self._all)
        self.registry = registry
        self.ttl = ttl
        self.clock = clock
        informers = informers if informers is not None else SharedInformers(registry)
        events = informers.informer(EVENTS.plural)
        self.events = events.store
        events.add_handler(Handler(self._schedule, self._seen_again))

    def _all(self) -> list[str]:
        return self.events.keys()

    def _seen_again(self, old: Obj, new: Obj) -> None:
        if last_seen(old) != last_seen(new):  # a resync, or a change that is not a sighting
            self._schedule(new)

    def _schedule(self, event: Obj) -> None:
        when = last_seen(event)
        if when is not None:
            self.queue.add_after(key_of(event), self._left(when))

    def _left(self, when: dt.datetime) -> float:
        # A second more: the TTL must have passed, not just been reached.
        return (when + self.ttl - self.clock()).total_seconds() + 1.0

    def sync_event(self, key: str) -> None:
        event = self.events.get(key)
        if event is None:
            return
        if not expired([event], self.clock(), self.ttl):
            when = last_seen(event)
            if when is not None:
                self.queue.add_after(key, self._left(when))
            return
        m = event["metadata"]
        try:
            self.registry.delete(EVENTS, m["namespace"], m["name"],
                                 {"preconditions": {"uid": m.get("uid")}})  # fmt: skip
        except (errors.NotFoundError, errors.ConflictError):
            return  # gone already, or another event took its name
        log.info("event-ttl: expired event %s deleted", key)
