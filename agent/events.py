"""Kubernetes Events from the agent (``source.component: kubelet``), with client-go's dedup.

``EventRecorder.record`` POSTs an Event about a pod; the same (pod, container, reason, message)
again within ``DEDUP_SECONDS`` PATCHes the first one's ``count`` and ``lastTimestamp`` instead,
so a crash loop leaves one BackOff event with a growing count. Failures are logged, never
raised: an event is never worth failing a sync. With ``background=True`` (the agent) the API
calls go through one sender thread (``EventSender``), as client-go's broadcaster does, so a pod
start never waits on them; simulated nodes may share a sender. Effectful (API calls).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from agent.apis import EVENTS
from common import errors, meta
from common.client import ApiClient
from common.events import NORMAL, WARNING, build_event

log = logging.getLogger(__name__)

# client-go's event cache keeps similar events for about this long (it aggregates over 10 min).
DEDUP_SECONDS = 600.0
# Bound on remembered events, so a long-running agent does not grow without limit.
CACHE_SIZE = 4096
# Events waiting for the sender thread; beyond this they are dropped (client-go: 1000).
QUEUE_SIZE = 1000

__all__ = ["NORMAL", "WARNING", "EventRecorder", "make_event"]


def make_event(
    pod: dict[str, Any],
    reason: str,
    message: str,
    event_type: str,
    node: str,
    container: str | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """An Event about ``pod`` from the kubelet of ``node`` (about one of its containers when
    ``container`` is given)."""
    return build_event(
        pod, event_type, reason, message, "kubelet", node, kind="Pod", api_version="v1",
        field_path=f"spec.containers{{{container}}}" if container else "", timestamp=timestamp,
    )  # fmt: skip


class EventSender:
    """One thread making the recorders' API calls in the order they came; beyond ``size``
    waiting calls, new ones are dropped."""

    def __init__(self, size: int = QUEUE_SIZE) -> None:
        self.size = size
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue(maxsize=size)
        threading.Thread(target=self._send_loop, name="event-sender", daemon=True).start()

    @property
    def pending(self) -> int:
        """Calls waiting to be made."""
        return self._queue.qsize()

    def submit(self, call: Callable[[], None]) -> None:
        try:
            self._queue.put_nowait(call)
        except queue.Full:
            log.info("event dropped: %d events are already waiting to be sent", self.size)

    def _send_loop(self) -> None:
        while True:
            self._queue.get()()


class EventRecorder:
    """Posts pod events for one node; thread-safe."""

    def __init__(
        self,
        client: ApiClient | None,
        node: str,
        *,
        background: bool = False,
        sender: EventSender | None = None,
    ) -> None:
        self.client = client
        self.node = node
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, ...], tuple[str, int, float]] = OrderedDict()
        self.recorded: list[dict[str, Any]] = []  # the last events, for tests and debugging
        self._sender = sender if sender is not None or not background else EventSender()

    def _submit(self, call: Callable[[], None]) -> None:
        if self._sender is None:
            call()
            return
        self._sender.submit(call)

    def record(
        self,
        pod: dict[str, Any],
        reason: str,
        message: str,
        event_type: str = NORMAL,
        container: str | None = None,
    ) -> None:
        meta = pod["metadata"]
        key = (meta.get("uid", ""), container or "", reason, message, event_type)
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen[2] < DEDUP_SECONDS:
                name, count, _ = seen
                self._seen[key] = (name, count + 1, now)
                self._seen.move_to_end(key)
            else:
                seen = None
        log.debug("pod %s/%s: event %s %s", meta["namespace"], meta["name"], reason, message)
        if seen is not None:
            self._submit(lambda: self._bump(meta["namespace"], seen[0], seen[1] + 1))
            return
        event = make_event(pod, reason, message, event_type, self.node, container)
        self.recorded = [*self.recorded[-99:], event]
        if self.client is None:
            return
        with self._lock:
            self._seen[key] = (event["metadata"]["name"], 1, now)
            while len(self._seen) > CACHE_SIZE:
                self._seen.popitem(last=False)
        self._submit(lambda: self._create(key, event))

    def _create(self, key: tuple[str, ...], event: dict[str, Any]) -> None:
        assert self.client is not None
        namespace = event["metadata"]["namespace"]
        try:
            self.client.create(EVENTS, event, namespace)
        except errors.ApiError as e:
            log.info("event %s/%s not recorded: %s", namespace, event["metadata"]["name"], e)
            with self._lock:
                self._seen.pop(key, None)  # the next one is created afresh, not counted

    def _bump(self, namespace: str, name: str, count: int) -> None:
        if self.client is None:
            return
        patch = {"count": count, "lastTimestamp": meta.timestamp()}
        try:
            self.client.patch(EVENTS, name, patch, namespace)
        except errors.ApiError as e:
            log.debug("event %s/%s: count not updated: %s", namespace, name, e)
