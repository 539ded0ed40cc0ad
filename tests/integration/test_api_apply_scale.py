"""Server-side apply on the scale subresource over HTTP on a real Redis, as kube-apiserver's
integration test walks it: who owns the parent's ``spec.replicas`` after applies, merge patches
and PUTs of the Scale, the conflicts an applied Scale meets and ``force``; then the refusals."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.integration.conftest import Api

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
RESOURCES = [("deployments", "Deployment"), ("replicasets", "ReplicaSet")]


def _parent(kind: str) -> dict[str, Any]:
    labels = {"app": "nginx"}
    return {
        "apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "test"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]},
        }},
    }  # fmt: skip


def _scale(replicas: int, **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": "test", "namespace": "default", **metadata},
            "spec": {"replicas": replicas}}  # fmt: skip


class Parent:
    def __init__(self, api: Api, resource: str) -> None:
        self.api, self.path = api, f"/apis/apps/v1/namespaces/default/{resource}/test"

    def apply(self, body: Any, manager: str, sub: str = "", **query: Any) -> tuple[int, Any]:
        path = f"{self.path}/{sub}" if sub else self.path
        return self.api.call("PATCH", path, raw=yaml.safe_dump(body).encode(),
                             content_type=APPLY, fieldManager=manager, **query)  # fmt: skip

    def scale(self, method: str, body: Any, manager: str) -> tuple[int, Any]:
        kind = MERGE if method == "PATCH" else "application/json"
        return self.api.call(method, f"{self.path}/scale", body, content_type=kind,
                             fieldManager=manager)  # fmt: skip

    def get(self) -> dict[str, Any]:
        code, obj = self.api.call("GET", self.path)
        assert code == 200, obj
        return dict(obj)

    def replicas_owners(self) -> dict[str, dict[str, Any]]:
        """The entries that own ``spec.replicas``, by manager; the value must be there too."""
        obj = self.get()
        assert "replicas" in obj["spec"]
        return {e["manager"]: e for e in obj["metadata"]["managedFields"]
                if "f:replicas" in e["fieldsV1"].get("f:spec", {})}  # fmt: skip


@pytest.mark.parametrize(("resource", "kind"), RESOURCES)
def test_replicas_ownership_through_the_scale(api: Api, resource: str, kind: str) -> None:
    p = Parent(api, resource)
    assert p.apply(_parent(kind), "apply_test")[0] == 201
    assert set(p.replicas_owners()) == {"apply_test"}

    assert p.scale("PATCH", {"spec": {"replicas": 5}}, "scale_test")[0] == 200
    owners = p.replicas_owners()
    assert set(owners) == {"scale_test"} and p.get()["spec"]["replicas"] == 5
    assert owners["scale_test"]["subresource"] == "scale"
    assert owners["scale_test"]["operation"] == "Update"
    # The scale's manager owns spec.replicas in the parent: re-applying the old value conflicts.
    code, status = p.apply(_parent(kind), "apply_test")
    assert code == 409, status
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "scale_test" with subresource "scale" '
        "using apps/v1: .spec.replicas"
    )
    assert p.apply(_parent(kind), "apply_test", force="true")[0] == 200
    assert set(p.replicas_owners()) == {"apply_test"} and p.get()["spec"]["replicas"] == 1

    code, status = p.apply(_scale(17), "apply_scale", sub="scale")
    assert code == 409, status
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "apply_test": .spec.replicas'
    )
    assert status["details"]["causes"] == [{"reason": "FieldManagerConflict",
                                            "message": 'conflict with "apply_test"',
                                            "field": ".spec.replicas"}]  # fmt: skip
    code, scale = p.apply(_scale(17), "apply_scale", sub="scale", force="true")
    assert code == 200, scale
    assert scale["kind"] == "Scale" and scale["spec"] == {"replicas": 17}
    assert "managedFields" not in scale["metadata"]
    owners = p.replicas_owners()
    assert set(owners) == {"apply_scale"} and p.get()["spec"]["replicas"] == 17
    entry = owners["apply_scale"]
    assert (entry["operation"], entry["subresource"], entry["apiVersion"]) == (
        "Apply", "scale", "apps/v1"
    )  # fmt: skip
    assert entry["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "apply_test" in {e["manager"] for e in p.get()["metadata"]["managedFields"]}

    assert p.scale("PUT", _scale(7), "replace_test")[0] == 200
    assert set(p.replicas_owners()) == {"replace_test"}
    # Applying the value the Scale has shares the field.
    assert p.apply(_scale(7), "co_owning_test", sub="scale")[0] == 200
    assert set(p.replicas_owners()) == {"replace_test", "co_owning_test"}
    assert p.scale("PATCH", {"spec": {"replicas": 5}}, "scale_test")[0] == 200
    assert set(p.replicas_owners()) == {"scale_test"}


def test_an_applied_scale_that_changes_nothing_keeps_the_object(api: Api) -> None:
    p = Parent(api, "deployments")
    assert p.apply(_parent("Deployment"), "apply_test")[0] == 201
    assert p.apply(_scale(1), "apply_test", sub="scale")[0] == 200
    before = p.get()
    # The same manager applying the same Scale again: nothing to write.
    assert p.apply(_scale(1), "apply_test", sub="scale")[0] == 200
    assert p.get()["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    # A Scale without replicas owns nothing: the manager's scale entry goes away.
    no_replicas = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "test"}}
    assert p.apply(no_replicas, "apply_test", sub="scale")[0] == 200
    owners = p.replicas_owners()
    assert [e.get("subresource", "") for e in owners.values()] == [""]


def test_apply_scale_refusals(api: Api) -> None:
    p = Parent(api, "deployments")
    code, status = p.apply(_scale(2), "x", sub="scale")
    assert code == 404 and status["reason"] == "NotFound"  # an applied Scale creates nothing
    assert p.apply(_parent("Deployment"), "apply_test")[0] == 201
    rv = p.get()["metadata"]["resourceVersion"]

    code, status = p.apply(_parent("Deployment"), "x", sub="scale")
    assert code == 400
    assert status["message"] == (
        "Incorrect version specified in apply patch. Specified patch version: apps/v1, "
        "expected: autoscaling/v1"
    )
    code, status = p.apply({**_scale(2), "metadata": {"name": "other"}}, "x", sub="scale")
    assert code == 400
    assert status["message"] == (
        "the name of the object (other) does not match the name on the URL (test)"
    )
    code, status = p.apply({**_scale(2), "kind": "Deployment"}, "x", sub="scale")
    assert code == 400
    assert status["message"] == (
        "the kind in the data (Deployment) does not match the expected kind (Scale)"
    )
    code, status = p.apply(_scale(-1), "x", sub="scale", force="true")
    assert code == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "spec.replicas"
    code, status = p.apply(_scale(3, resourceVersion="1"), "x", sub="scale", force="true")
    assert code == 409 and status["reason"] == "Conflict"
    code, status = p.apply(_scale(3), "x", sub="scale", force="true", dryRun="All")
    assert code == 200 and status["spec"]["replicas"] == 3
    code, status = p.apply(["not", "a", "scale"], "x", sub="scale")
    assert code == 400
    for metadata in ("x", ["x"], 5):
        code, status = p.apply({**_scale(2), "metadata": metadata}, "x", sub="scale")
        assert code == 400, status
    code, status = p.apply({**_scale(2), "spec": {"replicas": "x"}}, "x", sub="scale")
    assert code == 400
    assert status["message"] == (
        'Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal string into '
        "Go struct field ScaleSpec.spec.replicas of type int32"
    )
    after = p.get()
    assert after["metadata"]["resourceVersion"] == rv and after["spec"]["replicas"] == 1
    assert set(p.replicas_owners()) == {"apply_test"}
