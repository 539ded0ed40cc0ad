"""Warnings of the request being served, recorded wherever they arise (decoding, validation) and
sent by the API server as ``Warning`` headers: kube-apiserver's ``warning.AddWarning(ctx, ...)``,
with a context variable in the place of the request context."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_current: ContextVar[list[str] | None] = ContextVar("tinykube_warnings", default=None)


def add(message: str) -> None:
    """Record a warning for the current request (once; nothing happens outside a request)."""
    found = _current.get()
    if found is not None and message not in found:
        found.append(message)


def current() -> list[str]:
    return list(_current.get() or [])


@contextlib.contextmanager
def recording() -> Iterator[list[str]]:
    """Collect the warnings of one request."""
    found: list[str] = []
    token = _current.set(found)
    try:
        yield found
    finally:
        _current.reset(token)
