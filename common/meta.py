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


def parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def new_uid() -> str:
    return str(uuid.uuid4())


def generated_name(base: str) -> str:
    suffix = "".join(secrets.choice(NAME_ALPHABET) for _ in range(5))
    return base[:MAX_GENERATE_NAME_BASE] + suffix


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = {}
        obj["metadata"] = m
    return m
