"""PersistentVolumes, PersistentVolumeClaims and StorageClasses through the API: defaults,
kube-apiserver's validation messages (nothing stored on bad input), the DefaultStorageClass
admission, the protection finalizers, and kubectl's Table columns."""

from __future__ import annotations

from typing import Any

from control.registry.defaultstorage import ensure_default_storage_class
from tests.integration.conftest import Api

PVS = "/api/v1/persistentvolumes"
PVCS = "/api/v1/namespaces/default/persistentvolumeclaims"
SCS = "/apis/storage.k8s.io/v1/storageclasses"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def claim(name: str = "data", **spec: Any) -> dict[str, Any]:
    requests = {"requests": {"storage": "1Gi"}}
    return {
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": requests, **spec},
    }


def test_defaults_and_finalizers(api: Api) -> None:
    body = {"metadata": {"name": "vol"}, "spec": {
        "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
        "hostPath": {"path": "/srv/vol"}}}  # fmt: skip
    code, pv = api.call("POST", PVS, body)
    assert code == 201, pv
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["volumeMode"] == "Filesystem"
    assert pv["status"]["phase"] == "Pending"
    assert pv["status"]["lastPhaseTransitionTime"] == pv["metadata"]["creationTimestamp"]
    assert pv["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
    code, pvc = api.call("POST", PVCS, claim())
    assert code == 201
    assert pvc["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert pvc["status"] == {"phase": "Pending"}
    assert "storageClassName" not in pvc["spec"]  # no default class in this cluster
    code, sc = api.call("POST", SCS, {"metadata": {"name": "s"}, "provisioner": "example.com/x"})
    assert code == 201
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")


def test_the_default_class_fills_a_claim_without_one(app: Any, api: Api) -> None:
    ensure_default_storage_class(app.extensions["tinykube"]["registry"])
    ensure_default_storage_class(app.extensions["tinykube"]["registry"])  # idempotent
    assert api.call("POST", PVCS, claim("a"))[1]["spec"]["storageClassName"] == "local-path"
    # An empty class asks for a volume with no class: it is kept.
    assert (
        api.call("POST", PVCS, claim("b", storageClassName=""))[1]["spec"]["storageClassName"] == ""
    )
    resp = api.client.get(SCS, headers={**api.headers, "Accept": TABLE})
    table = resp.get_json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age",
    ]  # fmt: skip
    assert table["rows"][0]["cells"][:5] == [
        "local-path (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", "false",
    ]  # fmt: skip


def test_bad_input_is_refused_and_nothing_stored(api: Api) -> None:
    code, body = api.call("POST", PVS, {"metadata": {"name": "bad"}, "spec": {
        "capacity": {"storage": "0"}, "accessModes": ["ReadWriteSometimes"],
        "hostPath": {"path": "/x"}, "local": {"path": "/y"}}})  # fmt: skip
    assert code == 422
    assert body["message"] == (
        'PersistentVolume "bad" is invalid: [spec.accessModes: Unsupported value: '
        '"ReadWriteSometimes": supported values: "ReadWriteOnce", "ReadOnlyMany", '
        '"ReadWriteMany", "ReadWriteOncePod", spec.capacity[storage]: Invalid value: "0": must '
        "be greater than zero, spec.local: Forbidden: may not specify more than 1 volume type]"
    )
    code, body = api.call("POST", PVCS, {"metadata": {"name": "bad"}, "spec": {}})
    assert code == 422
    assert body["message"] == (
        'PersistentVolumeClaim "bad" is invalid: [spec.accessModes: Required value: at least 1 '
        "access mode is required, spec.resources[storage]: Required value]"
    )
    code, body = api.call("POST", SCS, {"metadata": {"name": "bad"}, "reclaimPolicy": "Recycle",
                                        "volumeBindingMode": "Later"})  # fmt: skip
    assert code == 422
    assert body["message"] == (
        'StorageClass.storage.k8s.io "bad" is invalid: [provisioner: Required value, '
        'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain", '
        'volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", '
        '"WaitForFirstConsumer"]'
    )
    for path in (PVS, PVCS, SCS):
        assert api.call("GET", path)[1]["items"] == []


def test_a_claims_spec_is_immutable(api: Api) -> None:
    code, pvc = api.call("POST", PVCS, claim(storageClassName="x"))
    assert code == 201
    pvc["spec"]["accessModes"] = ["ReadWriteMany"]
    code, body = api.call("PUT", f"{PVCS}/data", pvc)
    assert code == 422
    assert body["message"] == (
        'PersistentVolumeClaim "data" is invalid: spec: Forbidden: spec is immutable after '
        "creation except resources.requests and volumeAttributesClassName for bound claims"
    )


def test_table_columns(api: Api) -> None:
    assert api.call("POST", PVCS, claim(storageClassName="manual"))[0] == 201
    resp = api.client.get(PVCS, headers={**api.headers, "Accept": TABLE})
    table = resp.get_json()
    assert [(c["name"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", 0), ("Status", 0), ("Volume", 0), ("Capacity", 0), ("Access Modes", 0),
        ("StorageClass", 0), ("VolumeAttributesClass", 0), ("Age", 0), ("VolumeMode", 1),
    ]  # fmt: skip
    assert table["rows"][0]["cells"][:7] == ["data", "Pending", "", "", "", "manual", "<unset>"]
