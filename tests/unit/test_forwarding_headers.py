"""The API server trusts no client to speak for its connection: a forwarded scheme or a
SCRIPT_NAME header is ignored whatever the peer's address (gunicorn's own request parser, with
the server's settings)."""

from __future__ import annotations

import pytest
from gunicorn.config import Config
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader

from control.httpworker import NO_FORWARDING

HEAD = (
    b"GET /api HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Ssl: on\r\n"
    b"SCRIPT_NAME: /elsewhere\r\nPATH_INFO: /other\r\n\r\n"
)


@pytest.mark.parametrize("peer", [("127.0.0.1", 40000), ("::1", 40000, 0, 0), ("10.0.0.9", 1)])
def test_no_peer_sets_the_scheme_or_the_script_name(peer: tuple[object, ...]) -> None:
    cfg = Config()
    for key, value in NO_FORWARDING.items():
        cfg.set(key, value)
    request = Request(cfg, IterUnreader([HEAD]), peer, 1)
    assert request.scheme == "http"  # the transport's (no TLS here)
    names = {name for name, _ in request.headers}
    assert "SCRIPT_NAME" not in names and "PATH_INFO" not in names
    assert request.path == "/api"
