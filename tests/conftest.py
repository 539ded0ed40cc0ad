"""Shared fixtures: a private redis-server for the whole run, and a fresh key prefix per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.redis_server import free_port, start_redis


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("redis")
    port = free_port()
    proc = start_redis(Path(data), port)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def key_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}:"
