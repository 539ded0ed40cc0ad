"""Durations as Kubernetes flags and kubectl take them: Go's ``time.ParseDuration`` syntax
(``300ms``, ``10s``, ``1m30s``, ``2h``), plus a bare number meaning seconds. Pure."""

from __future__ import annotations

import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in ``text``; ``ValueError`` with Go's wording when it is not a duration."""
    raw = text.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            raise ValueError(f'time: invalid duration "{text}"')
        return seconds
    sign, body = (-1.0, raw[1:]) if raw.startswith("-") else (1.0, raw.removeprefix("+"))
    if body in ("0", ""):
        if body == "":
            raise ValueError(f'time: invalid duration "{text}"')
        return 0.0
    total, pos = 0.0, 0
    for match in _PART.finditer(body):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(body) or pos == 0:
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * total
