"""The Node authorizer's graph for PersistentVolumeClaims and PersistentVolumes: a node's
credential may GET a claim its pods use and the volume that claim is bound to, nothing more
(no list or watch, no other claim or volume), with kube-apiserver's reasons; it may ask for a
volume that no longer exists and hear 404."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import NODE_TOKEN, Api

NS = "/api/v1/namespaces/default"
PVS = "/api/v1/persistentvolumes"


def volume(name: str, claim: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
        "hostPath": {"path": f"/srv/{name}"},
        "claimRef": {"namespace": "default", "name": claim}}}  # fmt: skip


def claim(name: str, pv: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": pv,
        "resources": {"requests": {"storage": "1Gi"}}}}  # fmt: skip


@pytest.fixture
def node(app: Any, api: Api) -> Api:
    for pv, pvc in (("pv-mine", "mine"), ("pv-theirs", "theirs")):
        assert api.call("POST", PVS, volume(pv, pvc))[0] == 201
        assert api.call("POST", f"{NS}/persistentvolumeclaims", claim(pvc, pv))[0] == 201
    for name, node_name in (("mine", "node-1"), ("theirs", "node-2")):
        pod = {"metadata": {"name": name}, "spec": {
            "nodeName": node_name, "containers": [{"name": "c", "image": "i"}],
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": name}}]}}  # fmt: skip
        assert api.call("POST", f"{NS}/pods", pod)[0] == 201
    return Api(app.test_client(), NODE_TOKEN)


def test_a_node_gets_its_pods_claims_and_their_volumes(node: Api) -> None:
    assert node.call("GET", f"{NS}/persistentvolumeclaims/mine")[0] == 200
    assert node.call("GET", f"{PVS}/pv-mine")[0] == 200


def test_a_node_gets_no_other_claim_or_volume(node: Api, api: Api) -> None:
    code, body = node.call("GET", f"{NS}/persistentvolumeclaims/theirs")
    assert code == 403
    assert body["message"] == (
        'persistentvolumeclaims "theirs" is forbidden: User "system:node:node-1" cannot get '
        'resource "persistentvolumeclaims" in API group "" in the namespace "default": no '
        "relationship found between node 'node-1' and this object"
    )
    assert node.call("GET", f"{PVS}/pv-theirs")[0] == 403
    code, body = node.call("GET", PVS, fieldSelector="metadata.name=pv-mine")
    assert code == 403
    assert body["message"].endswith(": can only get individual resources of this type")
    code, body = node.call("GET", f"{NS}/persistentvolumeclaims/mine/status")
    assert code == 403 and body["message"].endswith(": cannot get subresource")
    assert api.call("DELETE", f"{NS}/pods/mine", {"gracePeriodSeconds": 0})[0] == 200
    assert node.call("GET", f"{PVS}/pv-mine")[0] == 403


def test_a_node_hears_that_a_volume_is_gone(node: Api) -> None:
    """So that its agent may remove the local-path directory a deleted volume left."""
    code, body = node.call("GET", f"{PVS}/pvc-0f8e3c2a-1b2c-4d5e-8f90-123456789abc")
    assert code == 404
    assert body["reason"] == "NotFound"
