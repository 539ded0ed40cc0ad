"""Redis unreachable: every API call that needs the store answers 503 with a clear Status, fast,
never a hang or a 500; liveness still answers."""

from __future__ import annotations

import time

from common.redis_server import free_port
from common.redis_store import RedisStore
from control.apiserver.app import create_app
from control.apiserver.auth import TokenAuthenticator, User
from tests.integration.conftest import ADMIN_TOKEN, Api, pod_manifest


def test_store_down_is_503() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    app = create_app(store, TokenAuthenticator({ADMIN_TOKEN: User("admin", ("system:masters",))}))
    api = Api(app.test_client(), ADMIN_TOKEN)
    pods = "/api/v1/namespaces/default/pods"
    for method, path, body in (
        ("GET", pods, None),
        ("GET", f"{pods}/web", None),
        ("POST", pods, pod_manifest("web")),
        ("DELETE", f"{pods}/web", None),
        ("GET", "/readyz", None),
    ):
        t0 = time.monotonic()
        code, status = api.call(method, path, body)
        assert code == 503, (method, path, status)
        assert status["reason"] == "ServiceUnavailable"
        assert "storage backend is unavailable" in status["message"]
        assert time.monotonic() - t0 < 5
    assert api.call("GET", "/healthz")[0] == 200
    code, status = api.call("GET", pods, watch="true")
    assert code == 503 and status["kind"] == "Status"
