"""The OpenAPI v3 documents: what kubectl reads from them (a PATCH per kind that takes
fieldValidation, bodies that name the served schemas) is there."""

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
        "apis/storage.k8s.io/v1",
        "apis/discovery.k8s.io/v1",
        "apis/policy/v1",
        "apis/batch/v1",
    }
    url = paths["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    assert len(url.split("hash=")[1]) == 128


def test_each_kind_has_a_patch_that_takes_field_validation() -> None:
    core = document("v1")
    patches = {
        op["x-kubernetes-group-version-kind"]["kind"]: op
        for path, verb, op in operations(core)
        if verb == "patch" and path.endswith("{name}")
    }
    kinds = {"Pod", "Node", "Namespace", "Event", "Service", "ConfigMap", "Secret", "Endpoints"}
    kinds |= {"PersistentVolume", "PersistentVolumeClaim"}
    kinds |= {"ServiceAccount"}
    assert set(patches) == kinds
    pod = patches["Pod"]
    assert pod["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert pod["operationId"] == "patchCoreV1NamespacedPod"
    assert "fieldValidation" in [p["name"] for p in pod["parameters"]]
    lease = document("coordination.k8s.io/v1")["paths"]
    assert "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}" in lease


def test_bodies_refer_to_the_served_schemas() -> None:
    doc = document("apps/v1")
    schemas = doc["components"]["schemas"]
    for _, verb, op in operations(doc):
        for part in (op.get("requestBody") or {}, op["responses"]["200"]):
            for media in part.get("content", {}).values():
                ref = media["schema"].get("$ref")
                assert ref is None or ref.rsplit("/", 1)[1] in schemas, (verb, ref)
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]


def test_reads_do_not_take_field_validation() -> None:
    for _, verb, op in operations(document("apps/v1")):
        names = [p["name"] for p in op["parameters"]]
        assert ("fieldValidation" in names) == (verb in ("post", "put", "patch"))


def test_subresources_and_deletecollection_are_described() -> None:
    paths = document("apps/v1")["paths"]
    scale = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
    assert scale["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling", "version": "v1", "kind": "Scale"}  # fmt: skip
    assert scale["operationId"] == "patchAppsV1NamespacedDeploymentScale"
    status = paths["/apis/apps/v1/namespaces/{namespace}/replicasets/{name}/status"]["put"]
    assert status["operationId"] == "replaceAppsV1NamespacedReplicaSetStatus"
    collection = paths["/apis/apps/v1/namespaces/{namespace}/deployments"]["delete"]
    assert collection["x-kubernetes-action"] == "deletecollection"
    assert "labelSelector" in [p["name"] for p in collection["parameters"]]
    assert "delete" not in document("v1")["paths"]["/api/v1/nodes"]
