"""The Node authorizer's graph for Secrets and ConfigMaps: a node's credential reads one only
while a pod bound to that node uses it (volumes, projected sources, env, envFrom,
imagePullSecrets), by GET or by a list/watch narrowed with ``metadata.name``, as the kubelet does;
with kube-apiserver's reasons otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import NODE_TOKEN, Api

NS = "/api/v1/namespaces/default"


def pod(name: str, node: str, **spec: Any) -> dict[str, Any]:
    container = {"name": "c", "image": "i", **spec.pop("container", {})}
    return {"metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [container], **spec}}  # fmt: skip


@pytest.fixture
def node(app: Any, api: Api) -> Api:
    for name in ("vol", "proj", "pull", "env", "other", "unused"):
        assert api.call("POST", f"{NS}/secrets", {"metadata": {"name": name}})[0] == 201
        assert api.call("POST", f"{NS}/configmaps", {"metadata": {"name": name}})[0] == 201
    env = {"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "env", "key": "k"}}}],
           "envFrom": [{"configMapRef": {"name": "env"}}]}  # fmt: skip
    volumes = [
        {"name": "a", "secret": {"secretName": "vol"}},
        {"name": "b", "configMap": {"name": "vol"}},
        {"name": "c", "projected": {"sources": [{"secret": {"name": "proj"}},
                                                {"configMap": {"name": "proj"}}]}},
    ]  # fmt: skip
    mine = pod("mine", "node-1", volumes=volumes, imagePullSecrets=[{"name": "pull"}],
               container=env)  # fmt: skip
    assert api.call("POST", f"{NS}/pods", mine)[0] == 201
    theirs = pod("theirs", "node-2", volumes=[{"name": "a", "secret": {"secretName": "other"}}])
    assert api.call("POST", f"{NS}/pods", theirs)[0] == 201
    return Api(app.test_client(), NODE_TOKEN)


def test_a_node_reads_what_its_pods_use(node: Api) -> None:
    for name in ("vol", "proj", "pull", "env"):
        assert node.call("GET", f"{NS}/secrets/{name}")[0] == 200, name
    for name in ("vol", "proj", "env"):
        assert node.call("GET", f"{NS}/configmaps/{name}")[0] == 200, name
    code, body = node.call("GET", f"{NS}/configmaps", fieldSelector="metadata.name=vol")
    assert code == 200 and [i["metadata"]["name"] for i in body["items"]] == ["vol"]
    code, _ = node.call("GET", f"{NS}/secrets", watch="1", timeoutSeconds="1",
                        fieldSelector="metadata.name=vol")  # fmt: skip
    assert code == 200


def test_a_node_reads_nothing_else(node: Api, api: Api) -> None:
    code, body = node.call("GET", f"{NS}/secrets/other")
    assert code == 403
    assert body["message"] == (
        'secrets "other" is forbidden: User "system:node:node-1" cannot get resource "secrets" '
        'in API group "" in the namespace "default": no relationship found between node '
        "'node-1' and this object"
    )
    assert node.call("GET", f"{NS}/configmaps/pull")[0] == 403  # a Secret's name, not a map's
    assert node.call("GET", f"{NS}/secrets/unused")[0] == 403
    code, body = node.call("GET", f"{NS}/secrets")
    assert code == 403 and body["message"].endswith(": No Object name found")
    code, body = node.call("GET", "/api/v1/secrets", fieldSelector="metadata.name=vol")
    assert code == 403 and body["message"].endswith(
        ": can only read namespaced object of this type"
    )
    code, body = node.call("PUT", f"{NS}/secrets/vol", {"metadata": {"name": "vol"}})
    assert code == 403 and body["message"].endswith(": can only read resources of this type")
    assert node.call("GET", "/api/v1/namespaces/kube-system/secrets/vol")[0] == 403
    # Once the pod is gone, so is the relationship.
    assert api.call("DELETE", f"{NS}/pods/mine", {"gracePeriodSeconds": 0})[0] == 200
    assert node.call("GET", f"{NS}/secrets/vol")[0] == 403
