"""Protobuf bodies over HTTP: what kubectl's typed clients send is created, and the answer is JSON
(the Accept header also allows it), as kube-apiserver answers a client that asks for both."""

from __future__ import annotations

from tests.integration.conftest import Api
from tests.unit.test_protobody import KUBECTL_CREATE_DEPLOYMENT, envelope

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
PROTOBUF = "application/vnd.kubernetes.protobuf"


def post(api: Api, path: str, body: bytes) -> tuple[int, dict[str, object]]:
    resp = api.client.post(
        path,
        data=body,
        headers={**api.headers, "Content-Type": PROTOBUF, "Accept": f"{PROTOBUF},application/json"},
        query_string={"fieldManager": "kubectl-create", "fieldValidation": "Strict"},
    )
    assert resp.mimetype == "application/json"
    return resp.status_code, resp.get_json()


def test_kubectl_create_deployment_in_protobuf(api: Api) -> None:
    code, created = post(api, DEPLOYS, KUBECTL_CREATE_DEPLOYMENT)
    assert code == 201, created
    assert created["kind"] == "Deployment"
    code, stored = api.call("GET", f"{DEPLOYS}/hello-web")
    assert stored["spec"]["replicas"] == 1
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "tinykube/web:1"


def test_a_kind_without_protobuf_support_is_415(api: Api) -> None:
    code, status = post(
        api, "/api/v1/namespaces/default/pods", envelope("v1", "ReplicationController", b"")
    )
    assert (code, status["reason"]) == (415, "UnsupportedMediaType")
    assert "application/json" in str(status["message"])
