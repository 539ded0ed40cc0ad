"""What the API server reads from its watch cache instead of the store, and how each read stays
correct when the cache lags: Priority admission (a class made a moment ago, here or through
another API process), the Node authorizer's graph (a pod bound a moment ago), a node's pod
status write, a binding, and a TokenRequest (a pod recreated under the same name)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from common.resources import must
from control import satokens
from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.cache.cacher import Cacher
from control.registry.registry import Registry
from tests.integration.conftest import ADMIN_TOKEN, NODE_TOKEN, Api, pod_manifest

NS = "/api/v1/namespaces/default"
PCS = "/apis/scheduling.k8s.io/v1/priorityclasses"
MERGE = "application/merge-patch+json"
Obj = dict[str, Any]


def _pod(name: str, node: str = "", **spec: Any) -> Obj:
    manifest = pod_manifest(name)
    if node:
        manifest["spec"]["nodeName"] = node
    manifest["spec"].update(spec)
    return manifest


def _lagging(monkeypatch: pytest.MonkeyPatch, plural: str, seen: Any = None) -> None:
    """The cache of ``plural`` answers ``seen(obj)`` for what it holds (None: not there)."""
    peek, on_node = Cacher.peek, Cacher.on_node

    def stale_peek(self: Cacher, namespace: str, name: str) -> Obj | None:
        found = peek(self, namespace, name)
        if self.rt.plural != plural or found is None:
            return found
        return seen(found) if seen is not None else None

    def empty_on_node(self: Cacher, node: str, namespace: str = "") -> list[Obj]:
        return [] if self.rt.plural == plural else on_node(self, node, namespace)

    monkeypatch.setattr(Cacher, "peek", stale_peek)
    monkeypatch.setattr(Cacher, "on_node", empty_on_node)


def test_a_class_made_through_another_api_process_admits_the_next_pod(
    app: Any, api: Api, store: Any
) -> None:
    api.call("POST", f"{NS}/pods", _pod("warm"))  # this process's caches are running
    other = Registry(store)  # another API process: its own watch cache
    other.create(must("priorityclasses"), "", {"metadata": {"name": "gold"}, "value": 700})
    code, pod = api.call("POST", f"{NS}/pods", _pod("p", priorityClassName="gold"))
    assert code == 201, pod
    assert pod["spec"]["priority"] == 700
    code, refused = api.call("POST", f"{NS}/pods", _pod("q", priorityClassName="nope"))
    assert code == 403
    assert refused["message"] == 'pods "q" is forbidden: no PriorityClass with name nope was found'


def test_a_default_class_made_here_is_seen_by_the_next_pod(app: Any, api: Api) -> None:
    api.call("POST", f"{NS}/pods", _pod("warm"))
    body = {"metadata": {"name": "base"}, "value": 42, "globalDefault": True}
    assert api.call("POST", PCS, body)[0] == 201
    code, pod = api.call("POST", f"{NS}/pods", _pod("p"))
    assert code == 201, pod
    assert (pod["spec"]["priorityClassName"], pod["spec"]["priority"]) == ("base", 42)


@pytest.fixture
def configs(api: Api) -> Api:
    for name in ("mine", "theirs"):
        assert api.call("POST", f"{NS}/configmaps", {"metadata": {"name": name}})[0] == 201
    for pod, node in (("a", "node-1"), ("b", "node-2")):
        volumes = [{"name": "v", "configMap": {"name": "mine" if pod == "a" else "theirs"}}]
        assert api.call("POST", f"{NS}/pods", _pod(pod, node, volumes=volumes))[0] == 201
    return api


def test_the_graph_reads_the_cache_and_a_miss_the_store(
    configs: Api, node_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert node_api.call("GET", f"{NS}/configmaps/mine")[0] == 200
    assert node_api.call("GET", f"{NS}/configmaps/theirs")[0] == 403
    _lagging(monkeypatch, "pods")  # the bind of "a" has not reached this process's cache
    assert node_api.call("GET", f"{NS}/configmaps/mine")[0] == 200
    code, body = node_api.call("GET", f"{NS}/configmaps/theirs")
    assert code == 403
    assert body["message"].endswith("no relationship found between node 'node-1' and this object")


def test_a_nodes_status_write_with_a_lagging_cache(
    configs: Api, node_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    _lagging(monkeypatch, "pods")
    for name, expected in (("a", 200), ("b", 403)):
        code, pod = configs.call("GET", f"{NS}/pods/{name}")
        pod["status"]["phase"] = "Running"
        code, _ = node_api.call("PUT", f"{NS}/pods/{name}/status", pod)
        assert code == expected, name


def test_a_bind_from_a_stale_cached_pod_retries_from_the_store(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, created = api.call("POST", f"{NS}/pods", _pod("web"))
    assert code == 201
    labels = {"metadata": {"labels": {"x": "y"}}}
    code, _ = api.call("PATCH", f"{NS}/pods/web", labels, content_type=MERGE)
    assert code == 200
    _lagging(monkeypatch, "pods", seen=lambda _: created)  # the cache has not seen the patch
    binding = {"target": {"kind": "Node", "name": "node-1"}, "metadata": {"name": "web"}}
    assert api.call("POST", f"{NS}/pods/web/binding", binding)[0] == 201
    code, bound = api.call("GET", f"{NS}/pods/web")
    assert bound["spec"]["nodeName"] == "node-1"
    assert bound["metadata"]["labels"]["x"] == "y"
    again = {"target": {"kind": "Node", "name": "node-2"}, "metadata": {"name": "web"}}
    code, body = api.call("POST", f"{NS}/pods/web/binding", again)
    assert code == 409
    assert body["message"] == (
        'Operation cannot be fulfilled on pods/binding "web": pod web is already assigned to '
        'node "node-1"'
    )


@pytest.fixture
def sa_app(store: Any, tmp_path: Path) -> Iterator[Any]:
    users = {ADMIN_TOKEN: User("admin", ("system:masters",)),
             NODE_TOKEN: User("system:node:node-1", ("system:nodes",))}  # fmt: skip
    auth = TokenAuthenticator(users)
    issuer = satokens.Issuer(satokens.ensure_key(tmp_path / "service.key"))
    application = create_app(store, auth, ServerConfig(service_accounts=issuer))
    application.extensions["tinykube"]["registry"].ensure_namespaces()
    yield application


def test_a_token_request_for_a_recreated_pod_reads_the_store(
    sa_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, node = Api(sa_app.test_client(), ADMIN_TOKEN), Api(sa_app.test_client(), NODE_TOKEN)
    code, pod = admin.call("POST", f"{NS}/pods", _pod("web", "node-1"))
    assert code == 201, pod
    uid = pod["metadata"]["uid"]
    ref = {"kind": "Pod", "name": "web", "uid": uid}
    token = f"{NS}/serviceaccounts/default/token"
    assert node.call("POST", token, {"spec": {"boundObjectRef": ref}})[0] == 201
    # The cache still holds the pod's previous incarnation (another uid, not bound yet).
    old = {**pod, "metadata": {**pod["metadata"], "uid": "old"}, "spec": {"nodeName": ""}}
    _lagging(monkeypatch, "pods", seen=lambda _: old)
    code, answer = node.call("POST", token, {"spec": {"boundObjectRef": ref}})
    assert code == 201, answer
    assert answer["spec"]["boundObjectRef"]["uid"] == uid
    code, body = node.call("POST", token, {"spec": {"boundObjectRef": {**ref, "uid": "old"}}})
    assert code == 409
    assert body["message"] == (
        'Operation cannot be fulfilled on Pod "web": the UID in the bound object reference '
        "(old) does not match the UID in record. The object might have been deleted and then "
        "recreated"
    )


def test_a_status_write_starts_from_the_cached_version_it_names(
    app: Any, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg: Registry = app.extensions["tinykube"]["registry"]
    pods = must("pods")
    created, _ = reg.create(pods, "default", _pod("web"))
    first = {**created, "status": {**created["status"], "message": "one"}}
    second = reg.replace(pods, "default", "web", first, sub="status")
    assert second["status"]["message"] == "one"
    # A client still at the first version: a conflict, whether or not the cache has caught up.
    code, body = api.call("PUT", f"{NS}/pods/web/status", first)
    assert code == 409, body
    # The cache lags behind the version the client names: the store's is read.
    _lagging(monkeypatch, "pods", seen=lambda _: created)
    third = {**second, "status": {**second["status"], "message": "two"}}
    code, written = api.call("PUT", f"{NS}/pods/web/status", third)
    assert code == 200 and written["status"]["message"] == "two"
    monkeypatch.undo()
    # A write that changes nothing answers a copy, never the cache's own object.
    cacher = reg.cache.cacher(pods)
    assert cacher.wait_fresh(int(written["metadata"]["resourceVersion"]), 3) is None
    same = reg.replace(pods, "default", "web", written, sub="status")
    same["status"]["message"] = "changed by a caller"
    cached = cacher.peek("default", "web")
    assert cached is not None and cached["status"]["message"] == "two"
