"""The runner of a controller, as client-go's: informer handlers enqueue ``namespace/name`` keys,
N workers take keys off a rate-limited work queue and call ``sync(key)``, which compares the
cached state with the desired one and converges them. A sync that raises is retried with the
key's exponential back-off; one that returns forgets the key's failures. A key is never synced
by two workers at once, and a key queued many times while it waits is synced once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from common import errors
from common.informer import Handler, key_of
from common.workqueue import RateLimitedQueue

log = logging.getLogger(__name__)

Obj = dict[str, Any]
# How long an idle worker waits for a key before looking at ``stop`` again.
POLL_SECONDS = 0.5


class Controller:
    """A ``sync(key)`` with its queue and workers. It is also a control loop for the control
    plane's manager (``name``, ``run``): ``run`` serves one leadership term
    with a fresh queue, filled first with ``initial()`` (every key the caches hold)."""

    def __init__(
        self,
        name: str,
        sync: Callable[[str], None],
        *,
        workers: int = 1,
        queue: RateLimitedQueue | None = None,
        initial: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.name = name
        self.sync = sync
        self.workers = workers
        self.queue = queue if queue is not None else RateLimitedQueue(name=name)
        self.initial = initial

    def enqueue(self, obj: Obj) -> None:
        self.queue.add(key_of(obj))

    def handler(self) -> Handler:
        """The informer handler that enqueues every changed object's own key."""
        return Handler(
            on_add=self.enqueue,
            on_update=lambda _old, new: self.enqueue(new),
            on_delete=self.enqueue,
        )

    def start(self, stop: threading.Event) -> list[threading.Thread]:
        """Start the workers; they end once ``stop`` is set (the queue is shut down then)."""
        if self.queue.shutting_down:
            self.queue = RateLimitedQueue(name=self.queue.name)
        for key in self.initial() if self.initial is not None else ():
            self.queue.add(key)
        threads = [
            threading.Thread(target=self._work, args=(stop,), name=f"{self.name}-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for t in threads:
            t.start()

        def shut_down() -> None:
            stop.wait()
            self.queue.shutdown()

        threading.Thread(target=shut_down, daemon=True).start()
        return threads

    def run(self, stop: threading.Event) -> None:
        """Serve until ``stop``: start the workers and wait for them to end."""
        for t in self.start(stop):
            t.join()

    def _work(self, stop: threading.Event) -> None:
        while not stop.is_set():
            key = self.queue.get(POLL_SECONDS)
            if key is None:
                continue
            try:
                self.sync(key)
            except Exception as e:
                retry = not isinstance(e, errors.ApiError) or e.retryable
                log.log(
                    logging.INFO if isinstance(e, errors.ConflictError) else logging.WARNING,
                    "%s: sync of %s failed (%s)%s",
                    self.name,
                    key,
                    e,
                    ": retrying" if retry else "",
                )
                if retry:
                    self.queue.add_rate_limited(key)
                else:
                    self.queue.forget(key)
            else:
                self.queue.forget(key)
            finally:
                self.queue.done(key)
