"""The OpenAPI v3 documents: what kubectl reads from them (a PATCH per kind that takes
fieldValidation) is there, and nothing claims a schema that is not served."""

from __future__ import annotations

from typing import Any

from control.apiserver.openapi import document, index


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, verb, op)
        for path, item in doc["paths"].items()
        for verb, op in item.items()
        if verb != "parameters"
    ]


def test_index_lists_each_group_version_with_a_content_hash() -> None:
    paths = index()["paths"]
    assert set(paths) == {
        "api/v1",
        "apis/apps/v1",
        "apis/coordination.k8s.io/v1",
        "apis/discovery.k8s.io/v1",
    }
    url = paths["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    assert len(url.split("hash=")[1]) == 128


def test_each_kind_has_a_patch_that_takes_field_validation() -> None:
    core = document("v1")
    patches = {
        op["x-kubernetes-group-version-kind"]["kind"]: op
        for _, verb, op in operations(core)
        if verb == "patch"
    }
    assert set(patches) == {"Pod", "Node", "Namespace", "Event", "Service", "Endpoints"}
    pod = patches["Pod"]
    assert pod["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert pod["operationId"] == "patchCoreV1NamespacedPod"
    assert "fieldValidation" in [p["name"] for p in pod["parameters"]]
    lease = document("coordination.k8s.io/v1")["paths"]
    assert "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}" in lease


def test_no_schemas_are_claimed() -> None:
    for api_version in ("v1", "apps/v1"):
        doc = document(api_version)
        assert doc["components"] == {"schemas": {}}
        for _, _, op in operations(doc):
            assert "requestBody" not in op
            assert all("content" not in r for r in op["responses"].values())


def test_reads_do_not_take_field_validation() -> None:
    for _, verb, op in operations(document("apps/v1")):
        names = [p["name"] for p in op["parameters"]]
        assert ("fieldValidation" in names) == (verb in ("post", "put", "patch"))
