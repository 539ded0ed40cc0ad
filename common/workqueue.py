"""Work queues with client-go's guarantees, for controllers and the agent's pod workers.

A key queued several times is handed out once; a key being processed is never handed to a
second worker (re-adds wait until ``done``); ``add_after`` schedules a delayed re-add.
``RateLimitedQueue`` adds client-go's per-item exponential back-off for keys whose sync failed
(``add_rate_limited``; ``forget`` once a sync succeeds). A named queue reports client-go's
``workqueue_*`` metrics under its name. Effectful only in memory; thread-safe.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable

from common import metrics


class _Metrics:
    """client-go's queue metrics: depth and adds counted on every add that is not a duplicate,
    queue time from that add to the get, work time from the get to ``done``."""

    def __init__(self, name: str) -> None:
        self.depth = metrics.WORKQUEUE_DEPTH.labels(name)
        self.adds = metrics.WORKQUEUE_ADDS.labels(name)
        self.queued = metrics.WORKQUEUE_QUEUE_DURATION.labels(name)
        self.work = metrics.WORKQUEUE_WORK_DURATION.labels(name)
        self.retries = metrics.WORKQUEUE_RETRIES.labels(name)
        self._added: dict[str, float] = {}
        self._started: dict[str, float] = {}

    def added(self, key: str) -> None:
        self.adds.inc()
        self.depth.inc()
        self._added.setdefault(key, time.perf_counter())

    def got(self, key: str) -> None:
        self.depth.dec()
        now = time.perf_counter()
        self.queued.observe(now - self._added.pop(key, now))
        self._started[key] = now

    def done(self, key: str) -> None:
        started = self._started.pop(key, None)
        if started is not None:
            self.work.observe(time.perf_counter() - started)


class WorkQueue:
    def __init__(self, clock: Callable[[], float] = time.monotonic, *, name: str = "") -> None:
        self.name = name
        self._metrics = _Metrics(name) if name else None
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._delayed: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._shutdown = False

    def add(self, key: str) -> None:
        with self._cond:
            self._add_locked(key)

    def _add_locked(self, key: str) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if self._metrics is not None:
            self._metrics.added(key)
        if key not in self._processing:
            self._queue.append(key)
            self._cond.notify()

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._metrics is not None:
                self._metrics.retries.inc()
            heapq.heappush(self._delayed, (self._clock() + delay, next(self._seq), key))
            self._cond.notify()

    def get(self, timeout: float | None = None) -> str | None:
        """The next key to process (mark it ``done`` after), or None on shutdown or timeout."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                if self._shutdown:
                    return None
                now = self._clock()
                while self._delayed and self._delayed[0][0] <= now:
                    self._add_locked(heapq.heappop(self._delayed)[2])
                if self._queue:
                    key = self._queue.popleft()
                    self._processing.add(key)
                    self._dirty.discard(key)
                    if self._metrics is not None:
                        self._metrics.got(key)
                    return key
                wait = None if not self._delayed else self._delayed[0][0] - now
                if deadline is not None:
                    left = deadline - now
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)

    def done(self, key: str) -> None:
        with self._cond:
            self._processing.discard(key)
            if self._metrics is not None:
                self._metrics.done(key)
            if key in self._dirty:
                self._queue.append(key)
                self._cond.notify()

    def shutdown(self) -> None:
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    @property
    def shutting_down(self) -> bool:
        with self._cond:
            return self._shutdown

    def idle(self) -> bool:
        """Nothing queued and nothing being processed (delayed re-adds do not count)."""
        with self._cond:
            return not self._queue and not self._processing

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)


# client-go's DefaultItemBasedRateLimiter: 5 ms doubling per failure of the same key, up to 1000 s.
BASE_DELAY = 0.005
MAX_DELAY = 1000.0


class RateLimitedQueue(WorkQueue):
    """A ``WorkQueue`` whose failed keys come back after a per-key exponential back-off, as
    client-go's ``ItemExponentialFailureRateLimiter`` (its bucket limiter on the whole queue is
    left out: every key here is one object, and a sync writes at most a few times)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        name: str = "",
        base_delay: float = BASE_DELAY,
        max_delay: float = MAX_DELAY,
    ) -> None:
        super().__init__(clock, name=name)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()

    def when(self, key: str) -> float:
        """The back-off of the key's next failure (and count it)."""
        with self._lock:
            n = self._failures.get(key, 0)
            self._failures[key] = n + 1
        return float(min(self.base_delay * 2**n, self.max_delay))

    def add_rate_limited(self, key: str) -> None:
        self.add_after(key, self.when(key))

    def forget(self, key: str) -> None:
        """The key's sync succeeded: its next failure starts the back-off afresh."""
        with self._lock:
            self._failures.pop(key, None)

    def num_requeues(self, key: str) -> int:
        with self._lock:
            return self._failures.get(key, 0)
