"""The API server serves exactly the routes it means to: a route added by a framework default
(Flask's /static, which served files from the working directory) or by mistake fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from control.apiserver.app import create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.memory_store import MemoryStore

ADMIN = "admin-token"
# (rule, methods) of every route the API server serves, HEAD and OPTIONS aside.
EXPECTED = {
    ("/api", "GET"),
    ("/api/v1", "GET"),
    ("/api/v1/<path:rest>", "DELETE GET PATCH POST PUT"),
    ("/api/v1/namespaces/<namespace>/pods/<name>/attach", "GET"),
    ("/api/v1/namespaces/<namespace>/pods/<name>/attach", "GET POST"),
    ("/api/v1/namespaces/<namespace>/pods/<name>/exec", "GET"),
    ("/api/v1/namespaces/<namespace>/pods/<name>/exec", "GET POST"),
    ("/api/v1/namespaces/<namespace>/pods/<name>/portforward", "GET"),
    ("/api/v1/namespaces/<namespace>/pods/<name>/portforward", "GET POST"),
    ("/apis", "GET"),
    ("/apis/<group>", "GET"),
    ("/apis/<group>/<version>", "GET"),
    ("/apis/<group>/<version>/<path:rest>", "DELETE GET PATCH POST PUT"),
    ("/apis/authentication.k8s.io/v1/selfsubjectreviews", "DELETE GET PATCH POST PUT"),
    ("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "DELETE GET PATCH POST PUT"),
    ("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", "DELETE GET PATCH POST PUT"),
    ("/apis/authentication.k8s.io/v1/tokenreviews", "DELETE GET PATCH POST PUT"),
    ("/apis/metrics.k8s.io/v1beta1/nodes", "GET"),
    ("/apis/metrics.k8s.io/v1beta1/nodes/<name>", "GET"),
    ("/apis/metrics.k8s.io/v1beta1/pods", "GET"),
    ("/apis/metrics.k8s.io/v1beta1/namespaces/<namespace>/pods", "GET"),
    ("/apis/metrics.k8s.io/v1beta1/namespaces/<namespace>/pods/<name>", "GET"),
    ("/cacerts", "GET"),
    ("/healthz", "GET"),
    ("/metrics", "GET"),
    ("/livez", "GET"),
    ("/openapi/v2", "GET"),
    ("/openapi/v3", "GET"),
    ("/openapi/v3/api/<version>", "GET"),
    ("/openapi/v3/apis/<group>/<version>", "GET"),
    ("/readyz", "GET"),
    ("/v1-tinykube/join", "POST"),
    ("/version", "GET"),
    ("/version/", "GET"),
}


def _app() -> object:
    return create_app(
        MemoryStore(), TokenAuthenticator({ADMIN: User("admin", ("system:masters",))})
    )


def test_the_app_registers_only_the_routes_it_means_to_serve() -> None:
    app = _app()
    served = {
        (rule.rule, " ".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})))
        for rule in app.url_map.iter_rules()  # type: ignore[attr-defined]
    }
    assert served - EXPECTED == set(), "routes served that nobody meant to serve"
    assert EXPECTED - served == set(), "routes meant to be served that are missing"


@pytest.mark.parametrize("path", ["/static/tokens.csv", "/static/../tokens.csv", "/tokens.csv"])
def test_no_file_of_the_working_directory_is_served(
    path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "tokens.csv").write_text("secret-token,node-1,node-1\n")
    (tmp_path / "tokens.csv").write_text("secret-token,node-1,node-1\n")
    monkeypatch.chdir(tmp_path)
    client = _app().test_client()  # type: ignore[attr-defined]
    resp = client.get(path, headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status_code == 404
    assert b"secret-token" not in resp.data
    assert resp.get_json()["kind"] == "Status"
