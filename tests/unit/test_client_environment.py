"""The API client reads the environment's proxy and CA settings once, when it is made, and
sends every request with them (requests would read them again on each request)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from common.client import ApiClient
from tests.unit.httpstub import send_json


def test_the_proxy_for_the_server_is_taken_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = ApiClient("https://api.example:6443", "t")
    assert client.session.proxies.get("https") == "http://proxy.example:3128"
    assert client.session.trust_env is False
    assert client.with_timeout(2.0).session.proxies == client.session.proxies


def test_no_proxy_keeps_the_server_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "api.example")
    assert "https" not in ApiClient("https://api.example:6443", "t").session.proxies


def test_a_ca_bundle_from_the_environment_applies_only_without_a_ca_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/bundle.pem")
    assert ApiClient("https://api.example", "t").session.verify == "/etc/bundle.pem"
    assert ApiClient("https://api.example", "t", ca_file="/ca.crt").session.verify == "/ca.crt"
    assert ApiClient("https://api.example", "t", insecure=True).session.verify is False


def test_requests_carry_the_token_even_with_a_netrc_entry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            send_json(self, 200, b'{"kind": "Namespace", "metadata": {"name": "x"}}')

        def log_message(self, *args: object) -> None:
            pass

    netrc = tmp_path / "netrc"  # type: ignore[operator]
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    monkeypatch.setenv("NETRC", str(netrc))
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = ApiClient(f"http://127.0.0.1:{server.server_port}", "tok")
    answered: list[int] = []  # the session's response hooks still see every answer
    client.session.hooks["response"].append(lambda resp, **kw: answered.append(resp.status_code))
    try:
        assert client.request_json("GET", "/api/v1/namespaces/x")["metadata"]["name"] == "x"
        assert answered == [200]
    finally:
        client.close()
        server.shutdown()
        server.server_close()
    assert seen == ["Bearer tok"]
