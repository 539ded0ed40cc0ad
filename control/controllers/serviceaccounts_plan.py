"""What the service-account controller and the root CA publisher want in a namespace: the
``default`` ServiceAccount (kube's serviceaccount controller, which makes it in every namespace
and again when it is deleted) and the ``kube-root-ca.crt`` ConfigMap holding the cluster's CA
(kube's root-ca-cert-publisher, whose copy a user's edit cannot keep). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_ACCOUNT = "default"
ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"
ROOT_CA_KEY = "ca.crt"
# The annotation kube's publisher writes on the ConfigMap.
ROOT_CA_DESCRIPTION = "kubernetes.io/description"
ROOT_CA_TEXT = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters."
)

Obj = Mapping[str, Any]


def active(namespace: Obj | None) -> bool:
    """Whether objects may be made in the namespace (it exists and is not terminating)."""
    if namespace is None:
        return False
    deleting = (namespace.get("metadata") or {}).get("deletionTimestamp")
    return not deleting and (namespace.get("status") or {}).get("phase") != "Terminating"


def missing_account(namespace: Obj | None, existing: Obj | None) -> dict[str, Any] | None:
    """The ``default`` ServiceAccount to create in the namespace, or None."""
    if not active(namespace) or existing is not None:
        return None
    name = str((namespace or {}).get("metadata", {}).get("name"))
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": DEFAULT_ACCOUNT, "namespace": name},
    }


def root_ca(namespace: Obj | None, existing: Obj | None, ca_pem: str) -> dict[str, Any] | None:
    """The ``kube-root-ca.crt`` ConfigMap to create (no ``resourceVersion``) or to write over
    ``existing`` (its ``resourceVersion`` kept), or None when it already holds the CA."""
    if not active(namespace):
        return None
    name = str((namespace or {}).get("metadata", {}).get("name"))
    annotations = {ROOT_CA_DESCRIPTION: ROOT_CA_TEXT}
    if existing is not None:
        meta = existing.get("metadata") or {}
        same = (existing.get("data") or {}) == {ROOT_CA_KEY: ca_pem}
        if same and (meta.get("annotations") or {}).get(ROOT_CA_DESCRIPTION) == ROOT_CA_TEXT:
            return None
        updated = dict(existing)
        updated["metadata"] = {**meta, "annotations": {**(meta.get("annotations") or {}),
                                                      **annotations}}  # fmt: skip
        updated["data"] = {ROOT_CA_KEY: ca_pem}
        updated.pop("binaryData", None)
        return updated
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": ROOT_CA_CONFIG_MAP, "namespace": name, "annotations": annotations},
        "data": {ROOT_CA_KEY: ca_pem},
    }
