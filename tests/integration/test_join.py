"""Joining: ``/cacerts`` and ``/v1-tinykube/join`` on the real app over Redis, the per-node token
they hand out (restricted like any node token), and the agent's side of the flow against a real
HTTPS server, which must refuse a CA that does not match its token before sending a credential."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from agent import join as agent_join
from common import errors
from common.jointoken import format_token, parse_token
from control import tls
from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.apiserver.join import JoinSettings
from control.apiserver.nodetokens import NodeTokens
from control.redis_store import RedisStore
from tests.integration.conftest import ADMIN_TOKEN, Api

SECRET = "join-secret-0123456789"
PASSWORD = "p" * 32
# A node of the static token file, as `tinykube up` writes one for each of its agents.
STATIC_NODE_TOKEN = "static-node-2-token"


@pytest.fixture
def certs(tmp_path: Path) -> tls.TlsFiles:
    return tls.ensure(tmp_path / "tls", [])


@pytest.fixture
def joinable(store: RedisStore, certs: tls.TlsFiles) -> Any:
    tokens = NodeTokens(store)
    static = {
        ADMIN_TOKEN: User("admin", ("system:masters",)),
        STATIC_NODE_TOKEN: User("system:node:node-2", ("system:nodes",)),
    }
    auth = TokenAuthenticator(static, source=tokens)
    ca = certs.ca_cert.read_bytes()
    extra = {"join": JoinSettings(ca, SECRET, tokens)}
    app = create_app(store, auth, ServerConfig(watch_poll=0.2, extra=extra))
    app.extensions["tinykube"]["registry"].ensure_namespaces()
    seen: list[str] = []
    app.before_request(lambda: seen.append(_request_line()))
    app.extensions["seen"] = seen
    return app


def _request_line() -> str:
    from flask import request

    return f"{request.method} {request.path}"


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def post_join(app: Any, node: str, secret: str = SECRET, password: str = PASSWORD) -> Any:
    return app.test_client().post(
        "/v1-tinykube/join",
        json={"nodeName": node, "nodePassword": password},
        headers=basic("node", secret),
    )


def node_body(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


def test_cacerts_is_public_and_is_the_ca(joinable: Any, certs: tls.TlsFiles) -> None:
    resp = joinable.test_client().get("/cacerts")
    assert resp.status_code == 200
    assert resp.data == certs.ca_cert.read_bytes()


def test_join_needs_the_secret(joinable: Any) -> None:
    assert post_join(joinable, "n1", secret="wrong").status_code == 401
    no_auth = joinable.test_client().post("/v1-tinykube/join", json={"nodeName": "n1"})
    assert no_auth.status_code == 401
    # A bearer token, even the admin's, is not a join secret.
    bearer = joinable.test_client().post(
        "/v1-tinykube/join",
        json={"nodeName": "n1", "nodePassword": PASSWORD},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert bearer.status_code == 401


def test_join_validates_the_request(joinable: Any) -> None:
    assert post_join(joinable, "Not_A_Name").status_code == 400
    assert post_join(joinable, "n1", password="short").status_code == 400


def test_joined_node_gets_a_node_token_restricted_like_any_node(joinable: Any) -> None:
    resp = post_join(joinable, "n1")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["user"] == "system:node:n1"
    assert "system:nodes" in body["groups"]
    node = Api(joinable.test_client(), body["token"])
    admin = Api(joinable.test_client(), ADMIN_TOKEN)
    assert node.call("POST", "/api/v1/nodes", node_body("n1"))[0] == 201
    assert node.call("GET", "/api/v1/nodes")[0] == 200
    # Not another node, not the pods of all nodes, not pod creation.
    assert node.call("POST", "/api/v1/nodes", node_body("n2"))[0] == 403
    assert node.call("GET", "/api/v1/pods")[0] == 403
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    assert node.call("POST", "/api/v1/namespaces/default/pods", pod)[0] == 403
    assert admin.call("POST", "/api/v1/namespaces/default/pods", pod)[0] == 201
    # The stored credential is a Secret in kube-system, as a bootstrap token is: an
    # administrator may read it, no node may.
    path = "/api/v1/namespaces/kube-system/secrets"
    code, listed = admin.call("GET", path)
    assert code == 200 and [s["type"] for s in listed["items"]] == ["tinykube.io/node-token"]
    assert node.call("GET", path)[0] == 403
    assert node.call("GET", f"{path}/{listed['items'][0]['metadata']['name']}")[0] == 403
    # A made-up token of the same shape is refused.
    fake = body["token"].split(".")[0] + "." + "a" * 32
    assert Api(joinable.test_client(), fake).call("GET", "/api/v1/nodes")[0] == 401


def test_rejoin_from_the_same_machine_replaces_the_token(joinable: Any) -> None:
    first = post_join(joinable, "n1").get_json()["token"]
    second = post_join(joinable, "n1").get_json()["token"]
    assert first != second
    assert Api(joinable.test_client(), first).call("GET", "/api/v1/nodes")[0] == 401
    assert Api(joinable.test_client(), second).call("GET", "/api/v1/nodes")[0] == 200
    auth: TokenAuthenticator = joinable.extensions["tinykube"]["auth"]
    assert auth.token_of("system:node:n1") == second  # what the API server uses for logs


def test_another_machine_cannot_take_a_live_node_name(joinable: Any) -> None:
    token = post_join(joinable, "n1").get_json()["token"]
    assert (
        Api(joinable.test_client(), token).call("POST", "/api/v1/nodes", node_body("n1"))[0] == 201
    )
    resp = post_join(joinable, "n1", password="q" * 32)
    assert resp.status_code == 409
    assert "another machine" in resp.get_json()["message"]
    admin = Api(joinable.test_client(), ADMIN_TOKEN)
    assert admin.call("DELETE", "/api/v1/nodes/n1")[0] == 200
    assert post_join(joinable, "n1", password="q" * 32).status_code == 201


def ready(api: Api, name: str, status: str) -> None:
    body = {"status": {"conditions": [{"type": "Ready", "status": status}]}}
    code, node = api.call(
        "PATCH", f"/api/v1/nodes/{name}/status", body, content_type="application/merge-patch+json"
    )
    assert code == 200, node


def test_the_name_of_a_static_token_node_cannot_be_taken(joinable: Any) -> None:
    resp = post_join(joinable, "node-2")
    assert resp.status_code == 409
    assert resp.get_json()["message"] == (
        'node "node-2" cannot join: the name belongs to a node of the server\'s static token '
        'file (user "system:node:node-2"); choose another node name'
    )
    assert joinable.extensions["tinykube"]["auth"].token_of("system:node:node-2") == (
        STATIC_NODE_TOKEN  # no second credential was issued
    )
    static = Api(joinable.test_client(), STATIC_NODE_TOKEN)
    assert static.call("POST", "/api/v1/nodes", node_body("node-2"))[0] == 201
    assert post_join(joinable, "node-2").status_code == 409


def test_the_name_of_a_ready_node_that_never_joined_cannot_be_taken(joinable: Any) -> None:
    admin = Api(joinable.test_client(), ADMIN_TOKEN)
    assert admin.call("POST", "/api/v1/nodes", node_body("n3"))[0] == 201
    ready(admin, "n3", "True")
    resp = post_join(joinable, "n3")
    assert resp.status_code == 409
    assert resp.get_json()["message"] == (
        'node "n3" cannot join: a Node with name "n3" and status "Ready" already exists in the '
        "cluster and did not join with a node password; delete the existing Node or choose "
        "another node name"
    )
    assert resp.get_json()["details"] == {"name": "n3", "kind": "nodes"}
    # Once it stops posting Ready (the node lifecycle controller's Unknown), the name is free.
    ready(admin, "n3", "Unknown")
    assert post_join(joinable, "n3").status_code == 201


def test_a_ready_node_joins_again_with_its_node_password(joinable: Any) -> None:
    token = post_join(joinable, "n1").get_json()["token"]
    node = Api(joinable.test_client(), token)
    assert node.call("POST", "/api/v1/nodes", node_body("n1"))[0] == 201
    ready(node, "n1", "True")
    again = post_join(joinable, "n1")
    assert again.status_code == 201, again.get_json()
    node = Api(joinable.test_client(), again.get_json()["token"])
    ready(node, "n1", "True")
    assert post_join(joinable, "n1", password="q" * 32).status_code == 409


def test_tokens_survive_a_new_app_on_the_same_store(joinable: Any, store: RedisStore) -> None:
    token = post_join(joinable, "n1").get_json()["token"]
    fresh = create_app(store, TokenAuthenticator({}, source=NodeTokens(store)))
    assert Api(fresh.test_client(), token).call("GET", "/api/v1/nodes")[0] == 200


# -- the agent's side, over real HTTPS ------------------------------------------------------------


@pytest.fixture
def https_server(joinable: Any, certs: tls.TlsFiles) -> Iterator[str]:
    server = make_server(
        "127.0.0.1", 0, joinable, threaded=True, ssl_context=(str(certs.cert), str(certs.key))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def test_agent_joins_with_the_token_and_reuses_its_credential(
    https_server: str, certs: tls.TlsFiles, joinable: Any, tmp_path: Path
) -> None:
    token = format_token(certs.ca_cert.read_bytes(), SECRET)
    creds = agent_join.credentials(https_server, token, "n1", tmp_path / "agent")
    assert creds.ca_file and Path(creds.ca_file).read_bytes() == certs.ca_cert.read_bytes()
    assert (tmp_path / "agent" / "credentials.json").stat().st_mode & 0o777 == 0o600
    joins = joinable.extensions["seen"].count("POST /v1-tinykube/join")
    again = agent_join.credentials(https_server, token, "n1", tmp_path / "agent")
    assert again == creds
    assert joinable.extensions["seen"].count("POST /v1-tinykube/join") == joins


def test_agent_refuses_a_ca_that_does_not_match_before_sending_credentials(
    https_server: str, joinable: Any, tmp_path: Path
) -> None:
    other_ca, _ = tls.make_ca(tls.dt.datetime.now(tls.dt.UTC))
    token = format_token(other_ca, SECRET)
    with pytest.raises(agent_join.CaMismatchError, match="refusing to send credentials"):
        agent_join.credentials(https_server, token, "n1", tmp_path / "agent")
    assert joinable.extensions["seen"] == ["GET /cacerts"]
    assert not (tmp_path / "agent" / "credentials.json").exists()


def test_agent_with_a_wrong_secret_is_refused(
    https_server: str, certs: tls.TlsFiles, tmp_path: Path
) -> None:
    token = format_token(certs.ca_cert.read_bytes(), "not-the-secret")
    with pytest.raises(errors.UnauthorizedError):
        agent_join.credentials(https_server, token, "n1", tmp_path / "agent")


def test_agent_is_told_why_a_taken_name_is_refused(
    https_server: str, certs: tls.TlsFiles, tmp_path: Path
) -> None:
    token = format_token(certs.ca_cert.read_bytes(), SECRET)
    with pytest.raises(errors.ConflictError, match="static token file"):
        agent_join.credentials(https_server, token, "node-2", tmp_path / "agent")
    assert not (tmp_path / "agent" / "credentials.json").exists()


def test_short_form_joins_with_a_warning(
    https_server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    creds = agent_join.credentials(https_server, SECRET, "n1", tmp_path / "agent")
    assert creds.token
    assert "cannot be verified" in caplog.text
    assert not parse_token(SECRET).secure


def wait_for(check: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_join_hands_out_the_pod_cidr_the_ipam_loop_writes(store: RedisStore, certs: Any) -> None:
    from control.controllers.nodeipam import NodeIpamController
    from control.informers import SharedInformers
    from control.podcidrs import PodCidrs

    cidrs = PodCidrs(store, "10.244.0.0/16")
    tokens = NodeTokens(store)
    extra = {"join": JoinSettings(certs.ca_cert.read_bytes(), SECRET, tokens, cidrs.allocate)}
    app = create_app(store, TokenAuthenticator({}, source=tokens), ServerConfig(extra=extra))
    app.extensions["tinykube"]["registry"].ensure_namespaces()
    answer = post_join(app, "n1").get_json()
    assert answer["podCIDR"] == "10.244.0.0/24"
    node = Api(app.test_client(), answer["token"])
    assert node.call("POST", "/api/v1/nodes", node_body("n1"))[0] == 201
    admin_tokens = {ADMIN_TOKEN: User("admin", ("system:masters",))}
    admin_app = create_app(store, TokenAuthenticator(admin_tokens))
    Api(admin_app.test_client(), ADMIN_TOKEN).call("POST", "/api/v1/nodes", node_body("n2"))
    registry = app.extensions["tinykube"]["registry"]
    informers = SharedInformers(registry)
    loop = NodeIpamController(registry, cidrs, informers)
    stop = threading.Event()
    informers.start(stop)
    try:
        assert informers.wait_for_sync(stop, timeout=10)
        queue = loop.controller.queue
        assert sorted(queue.get(0) or "" for _ in range(2)) == ["n1", "n2"]  # those lacking one
        for name in ("n1", "n2"):
            loop.sync(name)
            queue.done(name)
        wait_for(lambda: all(n["spec"].get("podCIDR") for n in loop.nodes.store.objects()))
        loop.sync("n1")  # has one now: nothing is written
        assert queue.get(0) is None  # the writes queued nothing: the nodes have their CIDRs
    finally:
        stop.set()
    specs = {n["metadata"]["name"]: n["spec"] for n in store.list("nodes")[0]}
    assert specs["n1"]["podCIDR"] == "10.244.0.0/24"  # the one the agent was told at join
    assert specs["n2"] == {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}
