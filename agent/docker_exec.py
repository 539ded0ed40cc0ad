"""A ``docker exec`` session over the engine's hijacked connection: reads Docker's multiplexed
stream (8-byte headers: stream type, 3 zero bytes, u32 BE size) or a TTY's raw bytes, writes
stdin, half-closes it, and asks the engine for the exit code. The engine calls (resize,
inspect) come in as callables, so this module needs no ``docker`` import. Effectful (socket).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">BxxxL")
READ_SIZE = 32 * 1024
# How often the exit code is polled while the engine still reports the exec as running.
EXIT_POLL_SECONDS = 0.02


class DockerExecSession:
    """One exec's streams; ``sock`` is the raw socket of the ``/exec/ID/start`` upgrade."""

    def __init__(
        self,
        sock: Any,
        *,
        tty: bool,
        resize: Callable[[int, int], None],
        inspect: Callable[[], dict[str, Any]],
        timeout: float | None = None,
        keep_stdin: bool = False,
    ) -> None:
        self.tty = tty
        # An attach to a container without stdinOnce: the end of the client's stdin leaves the
        # container's open (Docker would end the output with it; the kubelet's runtime does not).
        self._keep_stdin = keep_stdin
        self._io = sock  # a socket.SocketIO (unix socket) or a socket
        self._sock: socket.socket = getattr(sock, "_sock", sock)
        self._resize = resize
        self._inspect = inspect
        self._sock.settimeout(timeout)
        self._closed = False

    def _recv(self, size: int) -> bytes:
        try:
            return self._sock.recv(size)
        except TimeoutError:
            raise
        except OSError:
            return b""  # closed under us: the stream is over

    def _exactly(self, size: int) -> bytes:
        buf = b""
        while len(buf) < size:
            chunk = self._recv(size - len(buf))
            if not chunk:
                return buf
            buf += chunk
        return buf

    def read(self) -> tuple[int, bytes] | None:
        if self._closed:
            return None
        if self.tty:
            data = self._recv(READ_SIZE)
            return (1, data) if data else None
        while True:
            head = self._exactly(_HEADER.size)
            if len(head) < _HEADER.size:
                return None
            stream, size = _HEADER.unpack(head)
            payload = self._exactly(size)
            if len(payload) < size:
                return None
            if payload:
                return (2 if stream == 2 else 1), payload

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)

    def close_stdin(self) -> None:
        if self._keep_stdin:
            return
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    def resize(self, width: int, height: int) -> None:
        try:
            self._resize(width, height)
        except Exception as e:  # a resize racing the end of the command is harmless
            log.debug("exec: resize failed: %s", e)

    def exit_code(self, wait: float = 5.0) -> int | None:
        deadline = time.monotonic() + wait
        while True:
            info = self._inspect()
            if not info.get("Running"):
                code = info.get("ExitCode")
                return int(code) if code is not None else None
            if time.monotonic() >= deadline:
                return None
            time.sleep(EXIT_POLL_SECONDS)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._io.close()
        with contextlib.suppress(OSError):
            self._sock.close()
