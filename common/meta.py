"""Object metadata helpers: timestamps in Kubernetes' RFC 3339 form, uids, generated names.
Pure except for ``now()`` and the random parts, which callers may inject."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

# Kubernetes' alphabet for generated name suffixes (no vowels, no look-alikes).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# generateName bases are cut so that base + 5 random characters fit in a 63-character label.
MAX_GENERATE_NAME_BASE = 58


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def timestamp(when: dt.datetime | None = None) -> str:
    """``2024-05-01T10:00:00Z``: whole seconds, UTC, as Kubernetes writes creationTimestamp."""
    return (when or now()).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_timestamp(when: dt.datetime | None = None) -> str:
    """``2024-05-01T10:00:00.123456Z``: the MicroTime of Leases and events."""
    return (when or now()).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: object) -> dt.datetime | None:
    """An RFC 3339 timestamp (``2024-05-01T10:00:00Z``, fractions allowed) as an aware datetime;
    None for anything else."""
    if not isinstance(text, str) or not text:
        return None
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    # fromisoformat takes at most 6 fractional digits; Go writes up to 9 (RFC3339Nano).
    if "." in value:
        head, _, rest = value.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        value = head + "." + rest[: min(digits, 6)].ljust(6, "0") + rest[digits:]
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def new_uid() -> str:
    return str(uuid.uuid4())


def generated_name(base: str) -> str:
    suffix = "".join(secrets.choice(NAME_ALPHABET) for _ in range(5))
    return base[:MAX_GENERATE_NAME_BASE] + suffix


def without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without ``metadata.managedFields``: a shallow copy when it had them, else
    ``obj`` itself; ``obj`` is never changed."""
    m = obj.get("metadata")
    if not isinstance(m, dict) or "managedFields" not in m:
        return obj
    return {**obj, "metadata": {k: v for k, v in m.items() if k != "managedFields"}}


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = {}
        obj["metadata"] = m
    return m
