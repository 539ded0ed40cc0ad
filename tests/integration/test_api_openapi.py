"""The OpenAPI v3 documents over HTTP, as kubectl fetches them before it applies."""

from __future__ import annotations

from tests.integration.conftest import Api


def test_openapi_documents(api: Api) -> None:
    code, listed = api.call("GET", "/openapi/v3")
    assert code == 200
    url = listed["paths"]["api/v1"]["serverRelativeURL"]
    code, doc = api.call("GET", url.split("?")[0])
    assert (code, doc["openapi"]) == (200, "3.0.0")
    assert "/api/v1/namespaces/{namespace}/pods/{name}" in doc["paths"]
    code, batch = api.call("GET", "/openapi/v3/apis/batch/v1")
    assert code == 200
    assert "/apis/batch/v1/namespaces/{namespace}/jobs/{name}" in batch["paths"]
    code, _ = api.call("GET", "/openapi/v3/apis/networking.k8s.io/v1")
    assert code == 404


def test_openapi_v3_documents_carry_the_schemas(api: Api) -> None:
    code, doc = api.call("GET", "/openapi/v3/apis/apps/v1")
    assert code == 200
    schemas = doc["components"]["schemas"]
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    assert schemas["io.k8s.api.apps.v1.DeploymentSpec"]["required"] == ["selector", "template"]


def test_openapi_v2_as_json_or_protobuf(api: Api) -> None:
    code, doc = api.call("GET", "/openapi/v2")
    assert (code, doc["swagger"]) == (200, "2.0")
    pod = doc["definitions"]["io.k8s.api.core.v1.Pod"]
    assert pod["properties"]["spec"]["$ref"] == "#/definitions/io.k8s.api.core.v1.PodSpec"
    patch = doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
    assert [p["name"] for p in patch["parameters"] if p["in"] == "body"] == ["body"]
    protobuf = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    resp = api.client.get("/openapi/v2", headers={**api.headers, "Accept": protobuf})
    answered = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    assert (resp.status_code, resp.mimetype) == (200, answered)
    assert resp.data.startswith(b"\n\x032.0")  # field 1 (swagger): "2.0"
    resp = api.client.get("/openapi/v2", headers={**api.headers, "Accept": "text/html"})
    assert (resp.status_code, resp.get_json()["reason"]) == (406, "NotAcceptable")
