"""The control plane's Redis credentials: where the password comes from, what messages show of a
URL, and which unix sockets count as private (no password needed)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from control.main import parse_args
from control.redisauth import _private_socket, password_from, redacted


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("redis://tk:pw@redis:6379/0", "redis://tk:***@redis:6379/0"),
        ("rediss://tk:p%40w@redis/0", "rediss://tk:***@redis/0"),
    ],
)
def test_messages_never_show_the_password_of_a_url(url: str, shown: str) -> None:
    assert redacted(url) == shown


def test_the_password_file_wins_over_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text("from-file\n")
    args = parse_args(["--redis-password-file", str(path)])
    assert password_from(args, {"TINYKUBE_REDIS_PASSWORD": "from-env"}) == "from-file"
    assert password_from(parse_args([]), {"TINYKUBE_REDIS_PASSWORD": "from-env"}) == "from-env"
    assert password_from(parse_args([]), {}) is None


def test_the_password_file_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINYKUBE_REDIS_PASSWORD_FILE", str(tmp_path / "pw"))
    assert parse_args([]).redis_password_file == tmp_path / "pw"


@pytest.fixture
def sock(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "run" / "redis.sock"
    path.parent.mkdir()
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    yield path
    s.close()


@pytest.mark.parametrize(
    ("sock_mode", "dir_mode", "private"),
    [(0o700, 0o755, True), (0o777, 0o700, True), (0o770, 0o755, False), (0o777, 0o755, False)],
)
def test_a_unix_socket_is_private_when_others_cannot_reach_it(
    sock: Path, sock_mode: int, dir_mode: int, private: bool
) -> None:
    os.chmod(sock, sock_mode)
    os.chmod(sock.parent, dir_mode)
    assert _private_socket(f"unix://{sock}?db=0") is private


def test_tcp_and_missing_sockets_are_not_private(tmp_path: Path) -> None:
    assert not _private_socket("redis://127.0.0.1:6379/0")
    assert not _private_socket(f"unix://{tmp_path}/none.sock")
