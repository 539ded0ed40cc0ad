"""After ``tinykube up``: no process on the machine carries one of the cluster's secrets (node
tokens, admin token, join token, Redis password) on its command line, which every local user
can read in /proc/PID/cmdline, and the cluster's Redis answers a client without the password
with NOAUTH."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import redis

from tests.e2e.conftest import Cluster


def _secrets(data_dir: Path) -> dict[str, str]:
    found = {
        line.split(",")[1]: line.split(",")[0]
        for line in (data_dir / "tokens.csv").read_text().splitlines()
    }
    found["redis-password"] = (data_dir / "redis-password").read_text().strip()
    found["join-token"] = (data_dir / "server" / "node-token").read_text().strip()
    return found


def _cmdlines() -> dict[int, str]:
    out = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                raw = Path(entry.path, "cmdline").read_bytes()
            except OSError:
                continue  # gone meanwhile
            out[int(entry.name)] = raw.replace(b"\0", b" ").decode(errors="replace")
    return out


def test_no_process_has_a_secret_of_the_cluster_in_its_command_line(cluster: Cluster) -> None:
    secrets = _secrets(cluster.data_dir)
    wanted = {"admin", "system:node:node-1", "system:node:node-2", "redis-password", "join-token"}
    assert wanted <= set(secrets) and all(secrets.values())
    cmdlines = _cmdlines()
    processes = cluster.state()["processes"]
    # The scan does see the cluster's processes (and how they get their secrets instead).
    for name in ("node-1", "node-2"):
        assert "--token-file" in cmdlines[processes[name]]
    assert "--redis-password-file" in cmdlines[processes["control"]]
    leaks = [
        (pid, who) for pid, line in cmdlines.items() for who, s in secrets.items() if s in line
    ]
    assert leaks == []


def _ask(port: int, *commands: bytes) -> list[bytes]:
    """The first line of the answer to each inline command, as redis-cli would show it."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"".join(c + b"\r\n" for c in commands))
        reader = s.makefile("rb")
        return [reader.readline().strip() for _ in commands]


def test_redis_refuses_a_client_without_the_password(cluster: Cluster) -> None:
    port = cluster.state()["redis_port"]
    answers = _ask(port, b"PING", b"CONFIG GET requirepass", b"KEYS *", b"SET tk:x 1")
    assert [a.split(b" ")[0] for a in answers] == [b"-NOAUTH"] * 4, answers
    password = _secrets(cluster.data_dir)["redis-password"]
    assert redis.Redis(port=port, password=password, socket_timeout=5).ping()
    assert _ask(port, b"AUTH " + password.encode(), b"PING") == [b"+OK", b"+PONG"]
