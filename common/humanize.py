"""Human-readable times as kubectl prints them: ages (``duration.HumanDuration``), "x ago" cells and
the RFC 1123 dates of ``describe``. Pure: the caller passes ``now``.
"""

from __future__ import annotations

import datetime as dt

from common.meta import parse_time

__all__ = ["age", "human_duration", "parse_time", "rfc1123z", "until"]

UNKNOWN = "<unknown>"
INVALID = "<invalid>"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def human_duration(seconds: float) -> str:
    """Kubernetes' ``duration.HumanDuration``: ``119s``, ``2m30s``, ``150m``, ``3h20m``, ``3d4h``.

    Like Go, the seconds are truncated toward zero; up to 1s in the future counts as ``0s`` (clock
    skew), further ahead is ``<invalid>``.
    """
    whole = int(seconds)
    if whole < -1:
        return INVALID
    if whole < 0:
        return "0s"
    if whole < 60 * 2:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return _two(minutes, "m", whole % 60, "s")
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        return _two(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return _two(hours // 24, "d", hours % 24, "h")
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        return _two(hours // 24 // 365, "y", (hours // 24) % 365, "d")
    return f"{hours // 24 // 365}y"


def _two(big: int, big_unit: str, small: int, small_unit: str) -> str:
    return f"{big}{big_unit}" if small == 0 else f"{big}{big_unit}{small}{small_unit}"


def age(timestamp: object, now: dt.datetime) -> str:
    """kubectl's ``translateTimestampSince``: ``<unknown>`` for a missing time, else its age."""
    when = parse_time(timestamp)
    if when is None:
        return UNKNOWN
    return human_duration((now - when).total_seconds())


def until(timestamp: object, now: dt.datetime) -> str:
    """kubectl's ``translateTimestampUntil`` (``Terminating (lasts 25s)``)."""
    when = parse_time(timestamp)
    if when is None:
        return UNKNOWN
    return human_duration((when - now).total_seconds())


def rfc1123z(timestamp: object) -> str:
    """Go's ``time.RFC1123Z`` layout used by ``describe``: ``Mon, 02 Jan 2006 15:04:05 -0700``."""
    when = parse_time(timestamp)
    if when is None:
        return UNKNOWN
    # Spelled out rather than %a/%b, which follow the C locale.
    day = _DAYS[when.weekday()]
    month = _MONTHS[when.month - 1]
    return f"{day}, {when:%d} {month} {when:%Y %H:%M:%S %z}"
