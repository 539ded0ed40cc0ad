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
    code, _ = api.call("GET", "/openapi/v3/apis/batch/v1")
    assert code == 404
