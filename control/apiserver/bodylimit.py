"""The request body's size limit, answered so that clients read the answer: kube-apiserver's 413
``Request entity too large: limit is 3145728`` as a Status, given only once the body has been
read. A server that answers early and closes with the body still unread makes the kernel reset
the connection, and a client still sending (Python's over TLS, for one) sees "connection reset"
or a TLS EOF instead of the Status. So an over-limit body announced by ``Content-Length`` is
read and dropped (up to ``DRAIN_LIMIT``) before the 413, and a body the application did not read
(a 401, a 404) is read out after it answered. WSGI middleware around the Flask app.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import IO, Any

from common import errors

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Kubernetes' limit on request bodies: "Request entity too large: limit is 3145728".
MAX_BODY = 3 * 1024 * 1024
# How much of a body is read to be dropped so the client can read the answer; beyond this (or
# DRAIN_SECONDS) the connection is closed instead.
DRAIN_LIMIT = 32 * 1024 * 1024
DRAIN_SECONDS = 10.0
_CHUNK = 64 * 1024


def too_large_status() -> dict[str, Any]:
    return errors.RequestEntityTooLargeError(
        f"Request entity too large: limit is {MAX_BODY}"
    ).to_status()


class _Counting:
    """``wsgi.input`` that counts what the application reads."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.read_bytes = 0
        self.ended = False

    def _seen(self, data: bytes, asked: int | None) -> bytes:
        self.read_bytes += len(data)
        if not data and asked != 0:
            self.ended = True
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._seen(self.stream.read(size) if size is not None else self.stream.read(), size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._seen(self.stream.readline(size if size is not None else -1), size)

    def readlines(self, hint: int = -1) -> list[bytes]:
        return [self._seen(line, None) for line in self.stream.readlines(hint)]

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


def drain(stream: IO[bytes], remaining: int | None) -> bool:
    """Read and drop up to ``remaining`` bytes (``None``: to the end); True if all were read."""
    deadline = time.monotonic() + DRAIN_SECONDS
    total = 0
    while remaining is None or remaining > 0:
        if total >= DRAIN_LIMIT or time.monotonic() > deadline:
            return False
        want = _CHUNK if remaining is None else min(_CHUNK, remaining)
        try:
            data = stream.read(want)
        except (OSError, ValueError):
            return False
        if not data:
            return remaining is None
        total += len(data)
        if remaining is not None:
            remaining -= len(data)
    return True


def _length(environ: dict[str, Any]) -> int | None:
    try:
        return int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


class BodyLimit:
    """Refuse bodies over ``MAX_BODY`` with a 413 Status after reading them; read out what the
    application left unread."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        length = _length(environ)
        stream = environ.get("wsgi.input")
        if stream is None:
            return self.app(environ, start_response)
        if length is not None and length > MAX_BODY:
            complete = drain(stream, length)
            body = json.dumps(too_large_status()).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            if not complete:
                headers.append(("Connection", "close"))
            start_response("413 Request Entity Too Large", headers)
            return [body]
        counting = _Counting(stream)
        environ["wsgi.input"] = counting
        result = self.app(environ, start_response)
        chunked = length is None and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "")
        if length is not None and counting.read_bytes < length:
            drain(stream, length - counting.read_bytes)
        elif chunked and not counting.ended:
            drain(stream, None)
        return result
