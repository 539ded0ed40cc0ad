"""The API worker's settings: gunicorn's values, each read once from its table."""

from __future__ import annotations

from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader

from control.httpworker import NO_FORWARDING, Settled


def _config() -> Config:
    cfg = Config()
    for key, value in NO_FORWARDING.items():
        cfg.set(key, value)
    cfg.set("limit_request_line", 100)
    return cfg


def test_the_settings_are_gunicorns_and_each_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _config()
    settled = Settled(cfg)
    reads: list[str] = []
    table = Config.__getattr__

    def counted(self: Config, name: str) -> Any:
        reads.append(name)
        return table(self, name)

    monkeypatch.setattr(Config, "__getattr__", counted)
    assert settled.limit_request_line == 100
    assert settled.keepalive == cfg.keepalive
    assert settled.is_ssl == cfg.is_ssl
    assert settled.limit_request_line == 100
    assert reads.count("limit_request_line") == 1
    with pytest.raises(AttributeError):
        _ = settled.no_such_setting


def test_gunicorns_parser_takes_them() -> None:
    head = b"GET /api HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: https\r\n\r\n"
    req = Request(Settled(_config()), IterUnreader([head]), ("10.0.0.9", 1))
    assert (req.method, req.path, req.scheme) == ("GET", "/api", "http")
    too_long = b"GET /" + b"a" * 200 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    with pytest.raises(Exception, match="Line is too large"):
        Request(Settled(_config()), IterUnreader([too_long]), ("10.0.0.9", 1))
