"""What a controller still expects its informers to show it, as Kubernetes' ControllerExpectations
and UIDTrackingControllerExpectations (pkg/controller/controller_utils.go): a controller that
created or deleted pods does not act on its cache again until the cache has seen those creates and
deletes, or five minutes have passed, so a slow watch never makes it create or delete twice.
Deletions are tracked by pod key, so a graceful deletion (the pod first gets a deletionTimestamp,
then goes) counts once. In memory, thread-safe; the clock is injected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# ExpectationsTimeout: expectations never observed are dropped after this long, so a lost event
# delays a controller by at most five minutes.
TIMEOUT_SECONDS = 300.0


@dataclass
class Expected:
    """ControlleeExpectations: creates and deletes still to be observed, and when they were set."""

    add: int
    delete: int
    since: float
    # The keys of the pods whose deletion is awaited (UIDTrackingControllerExpectations).
    keys: set[str] = field(default_factory=set)

    def fulfilled(self) -> bool:
        return self.add <= 0 and self.delete <= 0


class Expectations:
    """Per controller key (``namespace/name`` of the owner): the creates and deletes it awaits."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self._clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._items: dict[str, Expected] = {}

    def satisfied(self, key: str) -> bool:
        """SatisfiedExpectations: nothing awaited (or never set), all observed, or expired."""
        with self._lock:
            exp = self._items.get(key)
            if exp is None or exp.fulfilled():
                return True
            return self._clock() - exp.since > self._timeout

    def get(self, key: str) -> tuple[int, int] | None:
        """The (creates, deletes) still awaited for ``key``, if any were set."""
        with self._lock:
            exp = self._items.get(key)
            return None if exp is None else (exp.add, exp.delete)

    def expect_creations(self, key: str, count: int) -> None:
        """ExpectCreations: forget what was awaited and await ``count`` creates."""
        with self._lock:
            self._items[key] = Expected(count, 0, self._clock())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        """ExpectDeletions with the keys of the pods being deleted."""
        keys = set(pod_keys)
        with self._lock:
            self._items[key] = Expected(0, len(keys), self._clock(), keys)

    def creation_observed(self, key: str) -> None:
        """CreationObserved: one awaited create seen (or given up on)."""
        with self._lock:
            exp = self._items.get(key)
            if exp is not None:
                exp.add -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        """DeletionObserved: the deletion of ``pod_key`` seen; counted once per pod."""
        with self._lock:
            exp = self._items.get(key)
            if exp is not None and pod_key in exp.keys:
                exp.keys.discard(pod_key)
                exp.delete -= 1

    def delete(self, key: str) -> None:
        """DeleteExpectations: the owner is gone (a new one of the same name starts clean)."""
        with self._lock:
            self._items.pop(key, None)
