"""The real Flask app over a real Redis, driven in-process with Flask's test client."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from common.client import ApiClient
from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.redis_store import RedisStore

ADMIN_TOKEN = "admin-token"
NODE_TOKEN = "node-1-token"


class Api:
    """Flask test client with a bearer token; returns (status, json)."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        **query: Any,
    ) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {
            "headers": {**self.headers, "Content-Type": content_type},
            "query_string": query,
        }
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        resp = self.client.open(path, method=method, **kwargs)
        try:
            data = resp.get_json(force=True, silent=True)
        except Exception:
            data = None
        return resp.status_code, data if data is not None else resp.get_data(as_text=True)


@pytest.fixture
def store(redis_url: str, key_prefix: str) -> Iterator[RedisStore]:
    s = RedisStore(redis_url, prefix=key_prefix)
    yield s
    s.close()


@pytest.fixture
def app(store: RedisStore) -> Any:
    auth = TokenAuthenticator(
        {
            ADMIN_TOKEN: User("admin", ("system:masters",)),
            NODE_TOKEN: User("system:node:node-1", ("system:nodes",)),
        }
    )
    application = create_app(store, auth, ServerConfig(watch_poll=0.2))
    application.extensions["tinykube"]["registry"].ensure_namespaces()
    return application


@pytest.fixture
def api(app: Any) -> Api:
    return Api(app.test_client(), ADMIN_TOKEN)


@pytest.fixture
def node_api(app: Any) -> Api:
    return Api(app.test_client(), NODE_TOKEN)


def pod_manifest(name: str = "web", image: str = "tinykube/web:1", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {"containers": [{"name": "web", "image": image}]},
    }


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """The app on a real HTTP port (werkzeug, in a thread), for clients that speak HTTP."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        t.join(timeout=5)


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    with serve(app) as url:
        yield url


@pytest.fixture
def admin(server: str) -> Iterator[ApiClient]:
    client = ApiClient(server, ADMIN_TOKEN)
    yield client
    client.close()


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes ."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
