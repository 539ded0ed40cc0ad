"""Watches as the API server's workers serve them once their first events are out: parked in the
event loop (control.apiserver.parking), on the shared cluster's real gunicorn workers and TLS.
A parked watch still streams each change and its BOOKMARKs, ends at its timeout with the last
chunk and leaves its connection serving requests; a client that closes lets its watch go at
once; hundreds of parked watches each get a change while a GET is answered."""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from collections.abc import Iterator

import pytest
import requests

from common.kubeconfig import load_file, resolve
from tests.e2e.conftest import Cluster, wait_for

# A kind nothing else in the cluster watches over HTTP, so the gauge counts these tests' only.
REVISIONS = "/apis/apps/v1/namespaces/{ns}/controllerrevisions"


class Api:
    def __init__(self, cluster: Cluster) -> None:
        cfg = resolve(load_file(str(cluster.kubeconfig)))
        self.server, self.token, self.ca = cfg.server, cfg.token, cfg.ca_file
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = self.ca
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def url(self, path: str) -> str:
        return self.server + path

    def create_revision(self, ns: str, name: str) -> None:
        body = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                "metadata": {"name": name}, "revision": 1, "data": {}}  # fmt: skip
        r = self.session.post(self.url(REVISIONS.format(ns=ns)), json=body, timeout=30)
        assert r.status_code == 201, r.text

    def watching(self) -> float:
        """apiserver_longrunning_requests of controllerrevisions' watches, all workers."""
        text = self.session.get(self.url("/metrics"), timeout=30).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("apiserver_longrunning_requests{")
            and 'resource="controllerrevisions"' in line
            and 'verb="WATCH"' in line
        )

    def raw_watch(self, path: str) -> ssl.SSLSocket:
        """A watch on a connection of its own, its head read."""
        host, port = re.match(r"https://([^:/]+):(\d+)", self.server).groups()  # type: ignore[union-attr]
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.check_hostname = False
        sock = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=30))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
                     f"Authorization: Bearer {self.token}\r\n\r\n".encode())  # fmt: skip
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 200"), head
        return sock


@pytest.fixture
def api(cluster: Cluster) -> Iterator[Api]:
    client = Api(cluster)
    yield client
    client.session.close()


@pytest.fixture
def ns(api: Api) -> Iterator[str]:
    name = f"parked-{int(time.time() * 1000) % 10**8}"
    r = api.session.post(api.url("/api/v1/namespaces"), json={"metadata": {"name": name}})
    assert r.status_code == 201, r.text
    yield name
    api.session.delete(api.url(f"/api/v1/namespaces/{name}"), timeout=30)


def test_a_parked_watch_streams_bookmarks_ends_and_its_connection_serves_on(
    api: Api, ns: str
) -> None:
    api.create_revision(ns, "before")
    start = time.monotonic()
    path = REVISIONS.format(ns=ns) + "?watch=true&timeoutSeconds=4&allowWatchBookmarks=true"
    r = api.session.get(api.url(path), stream=True, timeout=30)
    assert r.status_code == 200 and r.headers["Transfer-Encoding"] == "chunked"
    seen: list[tuple[str, str]] = []
    for line in r.iter_lines():
        event = json.loads(line)
        seen.append((event["type"], event["object"]["metadata"].get("name", "")))
        if len(seen) == 1:
            api.create_revision(ns, "after")
    took = time.monotonic() - start
    assert seen[:2] == [("ADDED", "before"), ("ADDED", "after")]
    assert ("BOOKMARK", "") in seen[2:]  # the one due 2 s before the deadline, at least
    assert 3.5 <= took <= 6.5, took  # ended at its timeout, within the sweep's second
    # The body ended with its last chunk: the same connection serves the next request.
    listed = api.session.get(api.url(REVISIONS.format(ns=ns)), timeout=30)
    assert listed.status_code == 200 and len(listed.json()["items"]) == 2


def test_watches_whose_clients_close_are_let_go_at_once(api: Api, ns: str) -> None:
    before = api.watching()
    path = REVISIONS.format(ns=ns) + "?watch=true&timeoutSeconds=600"
    socks = [api.raw_watch(path) for _ in range(20)]
    wait_for("20 watches open", lambda: api.watching() == before + 20, timeout=10)
    for sock in socks[:10]:
        sock.close()
    wait_for("10 let go", lambda: api.watching() == before + 10, timeout=3)
    for sock in socks[10:]:
        sock.close()
    wait_for("all let go", lambda: api.watching() == before, timeout=3)


def test_hundreds_of_parked_watches_each_get_a_change_and_a_get_is_answered(
    api: Api, ns: str
) -> None:
    path = REVISIONS.format(ns=ns) + "?watch=true&timeoutSeconds=600"
    socks = [api.raw_watch(path) for _ in range(300)]
    try:
        start = time.monotonic()
        assert api.session.get(api.url("/version"), timeout=5).status_code == 200
        assert time.monotonic() - start < 1.0
        api.create_revision(ns, "news")
        for sock in socks:
            got = b""
            while b'"name":"news"' not in got:
                chunk = sock.recv(65536)
                assert chunk, "the watch ended without the change"
                got += chunk
            assert b'"type":"ADDED"' in got
    finally:
        for sock in socks:
            sock.close()
