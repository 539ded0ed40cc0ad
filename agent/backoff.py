"""The CrashLoopBackOff memory of the kubelet: how long a container that exited waits before its
next start (base doubling to a cap, reset after a long run), keyed by container and spec, and
Go's way of printing the delay. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class BackoffPolicy:
    """CrashLoopBackOff timing: first restart at once, then base doubling to cap."""

    base: float = 10.0
    cap: float = 300.0
    # A container that ran longer than this between two exits starts over from ``base``.
    reset: float = 600.0


@dataclass(frozen=True)
class BackoffEntry:
    delay: float
    last_update: datetime


def backoff_key(container_name: str, spec_hash: str) -> str:
    return f"{container_name}/{spec_hash}"


def remaining_backoff(
    entry: BackoffEntry | None, finished_at: datetime, now: datetime, policy: BackoffPolicy
) -> float:
    """Seconds left before a container that exited at ``finished_at`` may restart."""
    if entry is None or (finished_at - entry.last_update).total_seconds() > policy.reset:
        return 0.0
    return max(0.0, entry.delay - (now - finished_at).total_seconds())


def next_backoff(
    entry: BackoffEntry | None, finished_at: datetime, policy: BackoffPolicy
) -> BackoffEntry:
    """The back-off to apply to the next exit, once the current one has been restarted."""
    expired = entry is None or (finished_at - entry.last_update).total_seconds() > policy.reset
    delay = policy.base if expired or entry is None else min(entry.delay * 2, policy.cap)
    return BackoffEntry(delay, finished_at)


def go_duration(seconds: float) -> str:
    """A duration as Go prints it (``10s``, ``1m20s``, ``5m0s``, ``200ms``)."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, secs = divmod(seconds, 60)
    text = f"{secs:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text
