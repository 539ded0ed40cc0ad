"""A Redis that requires a password: the store works with the right one (reads, writes, watches);
the control plane refuses to start, with a message and exit code 1, against a Redis that rejects
its credentials, and warns when the Redis it is given needs none."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from common import errors
from common.redis_server import free_port, start_redis, wait_for_redis
from control import redisauth
from control.main import parse_args
from control.redis_store import RedisStore

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def locked_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    proc = start_redis(tmp_path_factory.mktemp("locked"), port, password=PASSWORD)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def _pod(name: str) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": "default", "uid": name}, "spec": {}}


def test_the_store_works_with_the_password(locked_url: str, key_prefix: str) -> None:
    store = RedisStore(locked_url, prefix=key_prefix, password=PASSWORD)
    try:
        assert store.requires_auth()
        created = store.create("pods", _pod("a"))
        assert store.get("pods", "default", "a")["metadata"]["uid"] == "a"
        events = store.watch("pods", int(created["metadata"]["resourceVersion"]) - 1, poll=1)
        first = next(e for e in events if e is not None)
        assert (first.type, first.object["metadata"]["name"]) == ("ADDED", "a")
    finally:
        store.close()


@pytest.mark.parametrize("password", [None, "wrong"])
def test_the_store_without_the_password_is_refused(locked_url: str, password: str | None) -> None:
    store = RedisStore(locked_url, password=password)
    with pytest.raises(errors.StoreCredentialsError, match="refused our credentials") as e:
        store.get("pods", "default", "a")
    assert e.value.code == 503 and not e.value.retryable
    store.close()


def test_the_readiness_probe_sends_the_password(locked_url: str) -> None:
    port = int(locked_url.rsplit(":", 1)[1].split("/")[0])
    wait_for_redis(port, password=PASSWORD)
    with pytest.raises(errors.ServiceUnavailableError, match="wants a password"):
        wait_for_redis(port)
    with pytest.raises(errors.ServiceUnavailableError, match="refused the password: -WRONGPASS"):
        wait_for_redis(port, password="wrong")


def _control(url: str, tmp_path: Path, *flags: str, env: dict[str, str] | None = None) -> str:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('t,admin,admin,"system:masters"\n')
    argv = [sys.executable, "-m", "control", "--redis-url", url, "--port", str(free_port()),
            "--token-auth-file", str(tokens), "--no-controllers", *flags]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert out.returncode == 1, out.stderr
    return out.stderr


def test_the_control_plane_exits_when_redis_refuses_its_password(
    locked_url: str, tmp_path: Path
) -> None:
    wrong = tmp_path / "password"
    wrong.write_text("wrong\n")
    err = _control(locked_url, tmp_path, "--redis-password-file", str(wrong))
    assert f"error: redis {locked_url} refused the control plane's credentials" in err
    assert "--redis-password-file or $TINYKUBE_REDIS_PASSWORD" in err
    assert "Traceback" not in err


def test_the_control_plane_exits_when_redis_wants_a_password(
    locked_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(redisauth.PASSWORD_ENV, raising=False)
    err = _control(locked_url, tmp_path)
    assert "refused the control plane's credentials (the storage backend refused our " in err
    assert "Authentication required" in err


def test_the_control_plane_exits_when_the_password_file_is_missing(
    locked_url: str, tmp_path: Path
) -> None:
    err = _control(locked_url, tmp_path, "--redis-password-file", str(tmp_path / "none"))
    assert "error: cannot read the Redis password" in err and "No such file" in err


def test_connect_takes_the_password_from_the_environment(
    locked_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(redisauth.PASSWORD_ENV, PASSWORD)
    with caplog.at_level(logging.WARNING):
        store = redisauth.connect(parse_args(["--redis-url", locked_url]))
    store.ping()
    store.close()
    assert not caplog.records


def test_connect_takes_the_password_from_a_file(
    locked_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(redisauth.PASSWORD_ENV, raising=False)
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    args = parse_args(["--redis-url", locked_url, "--redis-password-file", str(path)])
    redisauth.connect(args).close()


def test_connect_warns_when_redis_needs_no_password(
    redis_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(redisauth.PASSWORD_ENV, raising=False)
    with caplog.at_level(logging.WARNING):
        redisauth.connect(parse_args(["--redis-url", redis_url])).close()
    assert [r.getMessage() for r in caplog.records] == [
        f"redis {redis_url} requires no password: any local process can read and write the "
        "cluster's state; give it one (requirepass) and pass it with --redis-password-file"
    ]


def test_connect_warns_about_a_password_in_the_url(
    locked_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = locked_url.replace("redis://", f"redis://:{PASSWORD}@")
    with caplog.at_level(logging.WARNING):
        redisauth.connect(parse_args(["--redis-url", url])).close()
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "the password in --redis-url is visible to every local user" in messages
    assert PASSWORD not in messages
