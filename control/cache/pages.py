"""Paged lists as kube-apiserver pages them: at most ``limit`` items in key order (``ns/name``), a
``continue`` token (base64url of ``{"v": "meta.k8s.io/v1", "rv": <first page's revision>,
"start": <next key>}``, ``storage.EncodeContinue``) with which the next page is read at the first
page's revision, and ``remainingItemCount`` only when no selector filters the list. Tokens are
checked as ``storage.DecodeContinue`` checks them, with its messages. Pure.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from common import errors
from control.cache.dispatch import Filter

# What the cache holds of an object: the object as encoded JSON (not a tree of Python objects:
# a fifth of the memory, and nothing for the garbage collector to walk), its labels and its
# selectable fields.
Held = tuple[bytes, dict[str, str], dict[str, str]]

VERSION = "meta.k8s.io/v1"
INVALID = "continue key is not valid"


@dataclass(frozen=True)
class Continue:
    """A decoded token: the revision to read at (negative: the latest) and the key to start
    from, relative to the list's scope (``name`` in a namespace, ``ns/name`` across them)."""

    rv: int
    start: str


@dataclass(frozen=True)
class Page:
    items: list[bytes]  # encoded JSON
    # The key after which the next page starts (None: this is the last page).
    last: str | None = None
    remaining: int | None = None


def encode(rv: int, start: str) -> str:
    body = json.dumps({"v": VERSION, "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode(token: str) -> Continue:
    """The token's revision and start key; 400 "invalid continue token: ..." when it is not one
    this server made."""
    try:
        if "=" in token:
            raise ValueError("illegal base64 data: padding")
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        data = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError) as e:
        raise _invalid(f"{INVALID}: {e}") from None
    if not isinstance(data, dict):
        raise _invalid(f"{INVALID}: not an object")
    version, rv, start = data.get("v"), data.get("rv", 0), data.get("start", "")
    if not isinstance(rv, int) or isinstance(rv, bool) or not isinstance(start, str):
        raise _invalid(f"{INVALID}: cannot decode its fields")
    if version != VERSION:
        raise _invalid(f"{INVALID}: server does not recognize this encoded version {version}")
    if rv == 0:
        raise _invalid(f"{INVALID}: incorrect encoded start resourceVersion (version {VERSION})")
    if not start:
        raise _invalid(f"{INVALID}: encoded start key empty (version {VERSION})")
    key = start if start.startswith("/") else "/" + start
    if _go_clean(key) != key:
        raise _invalid(f"{INVALID}: {start}")
    return Continue(rv, key[1:])


def _go_clean(path: str) -> str:
    """Go's path.Clean for an absolute path (POSIX normpath keeps a leading ``//``)."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/")


def _invalid(detail: str) -> errors.BadRequestError:
    return errors.BadRequestError(f"invalid continue token: {detail}")


def select(
    keys: Sequence[str],
    get: Callable[[str], Held | None],
    f: Filter,
    *,
    start: str = "",
    limit: int = 0,
) -> Page:
    """The items of ``keys`` (sorted, every one present in ``get``) that ``f`` selects, from
    ``start`` on, at most ``limit`` of them (0: all)."""
    first = bisect.bisect_left(keys, start) if start else 0
    items: list[bytes] = []
    last = ""
    for n in range(first, len(keys)):
        held = get(keys[n])
        if held is None or not f.matches(held[1], held[2]):
            continue
        if limit and len(items) >= limit:
            remaining = len(keys) - first - limit if f.everything else None
            return Page(items, last, remaining)
        items.append(held[0])
        last = keys[n]
    return Page(items)


def scope_prefix(namespace: str) -> str:
    """What the keys of a list in ``namespace`` start with ("" across namespaces)."""
    return f"{namespace}/" if namespace else ""
