"""ApiClient's transport sends what Session.send would: the same URL and headers, redirects
followed, hooks called, urllib3's failures turned into the client's errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from common.client import ApiClient, UnreachableError
from common.redis_server import free_port
from common.transport import ONE_WRITE_MAX_BODY, VALID_HEADER_SETS, OneWriteHTTPConnection
from tests.unit.httpstub import send_json


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, dict[str, str]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        Handler.seen.append((self.command, self.path, dict(self.headers)))
        if self.path.startswith("/old"):
            self.send_response(308)
            self.send_header("Location", "/api/v1/namespaces/x")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        send_json(self, 200, b'{"kind": "Namespace", "metadata": {"name": "x"}}')

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def test_the_url_and_headers_are_those_requests_would_send(server: str) -> None:
    client = ApiClient(server, "tok", user_agent="ua")
    params = {"labelSelector": "a in (b, c)", "limit": 5, "fieldSelector": None}
    client.request_json("GET", "/api/v1/pods", params=params)
    client.request("DELETE", "/api/v1/namespaces/x")
    expected = requests.Request("GET", server + "/api/v1/pods", params=params).prepare()
    (method, path, headers), (_, _, delete_headers) = Handler.seen
    assert (method, server + path) == ("GET", expected.url)
    assert headers["Authorization"] == "Bearer tok" and headers["User-Agent"] == "ua"
    assert "Content-Length" not in headers and delete_headers["Content-Length"] == "0"


def test_redirects_are_followed_and_hooks_see_each_answer(server: str) -> None:
    client = ApiClient(server, "tok")
    answered: list[int] = []

    def hook(resp: requests.Response, **kw: Any) -> None:
        answered.append(resp.status_code)

    client.session.hooks["response"].append(hook)
    assert client.request_json("GET", "/old")["metadata"]["name"] == "x"
    assert answered == [308, 200]
    assert [p for _, p, _ in Handler.seen] == ["/old", "/api/v1/namespaces/x"]


def test_a_refused_connection_is_unreachable() -> None:
    client = ApiClient(f"http://127.0.0.1:{free_port()}", "tok")
    with pytest.raises(UnreachableError, match="was refused"):
        client.request("GET", "/api/v1/namespaces")


def test_an_invalid_header_fails_as_before(server: str) -> None:
    client = ApiClient(server, "bad\ntoken")
    with pytest.raises(UnreachableError, match="request to"):
        client.request("GET", "/api/v1/namespaces")


def test_the_checked_header_sets_do_not_grow_with_each_new_token(server: str) -> None:
    client = ApiClient(server, "tok")
    for i in range(VALID_HEADER_SETS * 2):
        client.session.headers["Authorization"] = f"Bearer tok-{i}"
        client.request("GET", "/api/v1/namespaces/x")
    assert len(client.transport._valid_headers) <= VALID_HEADER_SETS
    assert Handler.seen[-1][2]["Authorization"] == f"Bearer tok-{VALID_HEADER_SETS * 2 - 1}"
    client.session.headers["Authorization"] = "bad\ntoken"  # still checked after a clear
    with pytest.raises(UnreachableError, match="request to"):
        client.request("GET", "/api/v1/namespaces")


class RecordingSocket:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def settimeout(self, timeout: object) -> None:
        pass


@pytest.mark.parametrize(
    ("body", "writes"),
    [(b'{"a": 1}', 1), (None, 1), (b"x" * (ONE_WRITE_MAX_BODY + 1), 2)],
)
def test_the_header_block_and_a_body_leave_in_one_write(body: bytes | None, writes: int) -> None:
    conn = OneWriteHTTPConnection("127.0.0.1", 1)
    sock = RecordingSocket()
    conn.sock = sock  # type: ignore[assignment]
    length = {"Content-Length": str(len(body))} if body is not None else {}
    conn.request("POST", "/api/v1/namespaces/x/events", body=body, headers=length)
    assert len(sock.writes) == writes
    sent = b"".join(sock.writes)
    assert sent.startswith(b"POST /api/v1/namespaces/x/events HTTP/1.1\r\n")
    assert sent.endswith(b"\r\n\r\n" + (body or b""))


def test_a_post_body_reaches_the_server_whole(server: str) -> None:
    client = ApiClient(server, "tok")
    assert client.request_json("POST", "/api/v1/namespaces", body={"metadata": {"name": "x"}})
    assert Handler.seen[-1][0] == "POST" and Handler.seen[-1][2]["Content-Length"] == "27"
    _, pool = client.transport._pool(requests.Request("GET", server).prepare())
    assert pool.ConnectionCls is OneWriteHTTPConnection
    client.session.close()
