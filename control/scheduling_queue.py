"""kube-scheduler's scheduling queue. activeQ (higher ``spec.priority`` first, then first in,
first out) is what the scheduling cycle pops; backoffQ holds pods whose last attempt failed until
their back-off ends (1 s doubling to 10 s); unschedulablePods holds pods no node fitted until a
cluster event could change that, or for 5 minutes at most. A data structure with its own lock
and an injected clock: no I/O."""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from common.informer import key_of

Obj = dict[str, Any]
# kube-scheduler's podInitialBackoffSeconds and podMaxBackoffSeconds.
INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
# DefaultPodMaxInUnschedulablePodsDuration: a pod no event moved is tried again after this long,
# looked at every 30 s (flushUnschedulablePodsLeftover).
MAX_UNSCHEDULABLE_SECONDS = 300.0
FLUSH_UNSCHEDULABLE_EVERY = 30.0

ACTIVE, BACKOFF, UNSCHEDULABLE, IN_FLIGHT = "active", "backoff", "unschedulable", "in-flight"


@dataclass(eq=False)
class QueuedPod:
    """A pod in the queue with what the queue knows of its attempts (QueuedPodInfo)."""

    key: str
    pod: Obj
    timestamp: float  # when it (re-)entered the queue: FIFO order among equal priorities
    attempts: int = 0
    failed_at: float = 0.0  # end of the last failed attempt, where its back-off starts
    cycle: int = 0  # scheduling cycle of its last pop
    moved: bool = False  # the pod changed while it was in flight
    seq: int = 0  # its current heap entry; older entries are stale
    first_queued: float = field(default=-1.0)  # when it was first queued (latency metrics)

    def __post_init__(self) -> None:
        if self.first_queued < 0:
            self.first_queued = self.timestamp

    @property
    def priority(self) -> int:
        return priority(self.pod)


def priority(pod: Obj) -> int:
    value = (pod.get("spec") or {}).get("priority")
    return value if isinstance(value, int) else 0


def backoff_seconds(attempts: int) -> float:
    """``initial * 2 ** (attempts - 1)``, capped; no back-off before the first attempt."""
    if attempts <= 0:
        return 0.0
    return float(min(INITIAL_BACKOFF * 2 ** min(attempts - 1, 30), MAX_BACKOFF))


def updated(old: Obj, new: Obj) -> bool:
    """Whether a pod changed in a way that may change where it fits (kube's isPodUpdated: not
    only its status, resourceVersion, generation or managed fields)."""

    def strip(pod: Obj) -> Obj:
        m = {k: v for k, v in (pod.get("metadata") or {}).items()
             if k not in ("resourceVersion", "generation", "managedFields")}  # fmt: skip
        return {**{k: v for k, v in pod.items() if k != "status"}, "metadata": m}

    return strip(old) != strip(new)


class SchedulingQueue:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._cond = threading.Condition()
        self._infos: dict[str, QueuedPod] = {}  # every pod queued or in flight
        self._where: dict[str, str] = {}
        self._active: list[tuple[int, float, int, str]] = []  # (-priority, timestamp, seq, key)
        self._backoff: list[tuple[float, int, str]] = []  # (back-off end, seq, key)
        self._seq = 0
        self.cycle = 0  # scheduling cycles so far (one per pop)
        # The cycle of the last cluster event that could make pods fit: a pod whose attempt began
        # before it goes to backoffQ, not unschedulablePods (the event may have come too late for
        # that attempt).
        self._move_cycle = -1
        self._flushed = clock()

    # -- informer events ----------------------------------------------------------------------

    def add(self, pod: Obj) -> None:
        """A new pending pod goes to activeQ; one already known only gets the newer object."""
        key = key_of(pod)
        with self._cond:
            info = self._infos.get(key)
            if info is not None:
                info.pod = pod
                return
            info = QueuedPod(key, pod, self.clock())
            self._infos[key] = info
            self._push_active(info)

    def update(self, old: Obj, new: Obj) -> None:
        """A pending pod changed. An unschedulable one that changed more than its status is
        tried again (kube's Update); an unknown one is added."""
        key = key_of(new)
        with self._cond:
            info = self._infos.get(key)
            if info is None:
                info = QueuedPod(key, new, self.clock())
                self._infos[key] = info
                self._push_active(info)
                return
            was_priority, info.pod = info.priority, new
            where = self._where[key]
            if where == UNSCHEDULABLE and updated(old, new):
                self._requeue(info)
            elif where == IN_FLIGHT and updated(old, new):
                info.moved = True
            elif where == ACTIVE and info.priority != was_priority:
                self._push_active(info)

    def delete(self, pod: Obj) -> None:
        """The pod is gone, bound or no longer ours: out of every part of the queue."""
        with self._cond:
            key = key_of(pod)
            self._infos.pop(key, None)
            self._where.pop(key, None)

    # -- the scheduling cycle -----------------------------------------------------------------

    def pop(self, timeout: float) -> QueuedPod | None:
        """The next pod of activeQ, waiting up to ``timeout`` seconds; the pod is then in flight
        until ``done`` or a requeue."""
        deadline = self.clock() + timeout
        with self._cond:
            while True:
                now = self.clock()
                self._flush_backoff(now)
                self._flush_unschedulable(now)
                info = self._pop_active()
                if info is not None:
                    self.cycle += 1
                    info.cycle, info.moved = self.cycle, False
                    info.attempts += 1
                    self._where[info.key] = IN_FLIGHT
                    return info
                wait = deadline - now
                if self._backoff:
                    wait = min(wait, self._backoff[0][0] - now)
                if wait <= 0 and now >= deadline:
                    return None
                self._cond.wait(max(wait, 0.001))

    def done(self, info: QueuedPod) -> None:
        """The pod was assumed on a node: the queue lets go of it."""
        with self._cond:
            if self._infos.get(info.key) is info and self._where.get(info.key) == IN_FLIGHT:
                del self._infos[info.key], self._where[info.key]

    def requeue_unschedulable(self, info: QueuedPod) -> None:
        """No node fitted (AddUnschedulableIfNotPresent): unschedulablePods, or backoffQ when a
        cluster event came since the attempt began or the pod changed meanwhile."""
        with self._cond:
            if self._infos.get(info.key) is not info or self._where.get(info.key) != IN_FLIGHT:
                return  # deleted or bound meanwhile
            now = self.clock()
            info.failed_at = info.timestamp = now
            if info.moved or self._move_cycle >= info.cycle:
                self._requeue(info)
            else:
                self._where[info.key] = UNSCHEDULABLE

    def requeue_after_error(self, info: QueuedPod) -> None:
        """An attempt failed with an error (a bind refused): backoffQ, unless the pod is back in
        the queue already."""
        with self._cond:
            known = self._infos.get(info.key)
            if known is not None and known is not info:
                return
            if known is not None and self._where.get(info.key) != IN_FLIGHT:
                return
            self._infos[info.key] = info
            info.failed_at = info.timestamp = self.clock()
            self._push_backoff(info)

    def move_unschedulable(self, could_fit: Callable[[Obj], bool]) -> int:
        """A cluster event (MoveAllToActiveOrBackoffQueue): unschedulable pods that ``could_fit``
        says may fit now go to backoffQ, or activeQ once their back-off is over. Returns how
        many moved. ``could_fit`` runs without the queue's lock."""
        with self._cond:
            self._move_cycle = self.cycle
            waiting = [i for k, i in self._infos.items() if self._where[k] == UNSCHEDULABLE]
        chosen = [i for i in waiting if could_fit(i.pod)]
        moved = 0
        with self._cond:
            for info in chosen:
                if self._infos.get(info.key) is info and self._where[info.key] == UNSCHEDULABLE:
                    self._requeue(info)
                    moved += 1
        return moved

    def move_pods(self, keys: Iterable[str]) -> int:
        """An event only these pods care about (as a queueing hint says): those unschedulable
        move, one in flight is marked, the other pods' attempts are not. Returns how many
        moved."""
        moved = 0
        with self._cond:
            for key in keys:
                info, where = self._infos.get(key), self._where.get(key)
                if info is None:
                    continue
                if where == IN_FLIGHT:
                    info.moved = True
                elif where == UNSCHEDULABLE:
                    self._requeue(info)
                    moved += 1
        return moved

    def counts(self) -> dict[str, int]:
        """How many pods each part holds (in flight included)."""
        with self._cond:
            out = dict.fromkeys((ACTIVE, BACKOFF, UNSCHEDULABLE, IN_FLIGHT), 0)
            for where in self._where.values():
                out[where] += 1
            return out

    def where(self, key: str) -> str | None:
        with self._cond:
            return self._where.get(key)

    # -- inside the lock ----------------------------------------------------------------------

    def _requeue(self, info: QueuedPod) -> None:
        """To backoffQ while the pod's back-off runs, else to activeQ."""
        if self.clock() < self._backoff_end(info):
            self._push_backoff(info)
        else:
            self._push_active(info)

    def _backoff_end(self, info: QueuedPod) -> float:
        return info.failed_at + backoff_seconds(info.attempts)

    def _push_active(self, info: QueuedPod) -> None:
        self._seq += 1
        info.seq = self._seq
        self._where[info.key] = ACTIVE
        heapq.heappush(self._active, (-info.priority, info.timestamp, info.seq, info.key))
        self._cond.notify()

    def _push_backoff(self, info: QueuedPod) -> None:
        self._seq += 1
        info.seq = self._seq
        self._where[info.key] = BACKOFF
        heapq.heappush(self._backoff, (self._backoff_end(info), info.seq, info.key))
        self._cond.notify()

    def _current(self, key: str, seq: int, where: str) -> QueuedPod | None:
        info = self._infos.get(key)
        if info is None or info.seq != seq or self._where.get(key) != where:
            return None  # a stale heap entry: the pod moved or left since
        return info

    def _pop_active(self) -> QueuedPod | None:
        while self._active:
            _, _, seq, key = heapq.heappop(self._active)
            info = self._current(key, seq, ACTIVE)
            if info is not None:
                return info
        return None

    def _flush_backoff(self, now: float) -> None:
        """flushBackoffQCompleted: pods whose back-off is over go to activeQ."""
        while self._backoff and self._backoff[0][0] <= now:
            _, seq, key = heapq.heappop(self._backoff)
            info = self._current(key, seq, BACKOFF)
            if info is not None:
                info.timestamp = now
                self._push_active(info)

    def _flush_unschedulable(self, now: float) -> None:
        """flushUnschedulablePodsLeftover: pods unschedulable for 5 minutes are tried again."""
        if now - self._flushed < FLUSH_UNSCHEDULABLE_EVERY:
            return
        self._flushed = now
        for key, info in list(self._infos.items()):
            if (
                self._where[key] == UNSCHEDULABLE
                and now - info.failed_at >= MAX_UNSCHEDULABLE_SECONDS
            ):
                self._requeue(info)
