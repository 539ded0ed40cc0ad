"""The Secrets and ConfigMaps a pod uses, as podutil's visitors find them."""

from __future__ import annotations

from common.podrefs import config_map_names, references, secret_names

POD = {
    "spec": {
        "imagePullSecrets": [{"name": "pull"}, {}],
        "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "init-env"}}]}],
        "containers": [{
            "name": "c",
            "env": [
                {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s-key", "key": "k"}}},
                {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "c-key", "key": "k"}}},
                {"name": "C", "value": "plain"},
                {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            ],
            "envFrom": [{"configMapRef": {"name": "c-env"}, "prefix": "X_"}],
        }],
        "ephemeralContainers": [{"name": "e", "envFrom": [{"secretRef": {"name": "eph"}}]}],
        "volumes": [
            {"name": "1", "secret": {"secretName": "s-vol"}},
            {"name": "2", "configMap": {"name": "c-vol"}},
            {"name": "3", "projected": {"sources": [
                {"secret": {"name": "s-proj"}}, {"configMap": {"name": "c-proj"}},
                {"downwardAPI": {"items": []}},
            ]}},
            {"name": "4", "csi": {"driver": "d", "nodePublishSecretRef": {"name": "s-csi"}}},
            {"name": "5", "emptyDir": {}},
        ],
    }
}  # fmt: skip


def test_secret_names() -> None:
    assert secret_names(POD) == {"pull", "init-env", "s-key", "eph", "s-vol", "s-proj", "s-csi"}


def test_config_map_names() -> None:
    assert config_map_names(POD) == {"c-key", "c-env", "c-vol", "c-proj"}


def test_by_resource_and_odd_shapes() -> None:
    assert references(POD, "configmaps") == config_map_names(POD)
    assert references(POD, "pods") == set()
    assert (
        secret_names({"spec": {"volumes": [None, {"secret": None}], "containers": None}}) == set()
    )
