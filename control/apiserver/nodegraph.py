"""The Node authorizer's graph, read from the registry: for a node asking for a Secret,
ConfigMap, PersistentVolumeClaim or PersistentVolume, the names of those its pods use (a claim's
bound volume among them). ``control.apiserver.auth`` judges the request against this set.
Shell (reads the watch cache).
"""

from __future__ import annotations

from flask import current_app

from common import errors, podrefs
from common.resources import ResourceType, must
from control.apiserver.auth import NODE_RELATED
from control.registry.registry import Registry

PODS = must("pods")
PVCS = must("persistentvolumeclaims")
PVS = must("persistentvolumes")


def _registry() -> Registry:
    reg: Registry = current_app.extensions["tinykube"]["registry"]
    return reg


def related(node: str | None, rt: ResourceType, namespace: str, name: str) -> set[str]:
    """The names of the objects of ``rt`` in ``namespace`` that ``node``'s pods use (empty for
    a user who is not a node, or a resource the graph does not cover)."""
    if node is None or rt.plural not in NODE_RELATED or rt.group:
        return set()
    if rt.plural == "persistentvolumes":
        return _node_volumes(node) | _gone_volume(name)
    if not namespace:
        return set()
    pods = _registry().list(PODS, namespace, field_selector=f"spec.nodeName={node}", shared=True)
    if rt.plural == "serviceaccounts":  # whose tokens the node may request
        return {str((pod.get("spec") or {}).get("serviceAccountName") or "default")
                for pod in pods["items"]}  # fmt: skip
    return {n for pod in pods["items"] for n in podrefs.references(pod, rt.plural)}


def _node_volumes(node: str) -> set[str]:
    """The PersistentVolumes bound to the claims of the pods bound to ``node``."""
    pods = _registry().list(PODS, "", field_selector=f"spec.nodeName={node}", shared=True)
    names = set()
    for pod in pods["items"]:
        ns = pod["metadata"].get("namespace", "")
        for claim in podrefs.references(pod, "persistentvolumeclaims"):
            try:
                pvc = _registry().get(PVCS, ns, claim)
            except errors.NotFoundError:
                continue
            names.add(str((pvc.get("spec") or {}).get("volumeName") or ""))
    names.discard("")
    return names


def _gone_volume(name: str) -> set[str]:
    """A volume that no longer exists: a node may ask for it (and hear 404), so that its agent
    learns which local-path directories it may remove."""
    if not name:
        return set()
    try:
        _registry().get(PVS, "", name)
    except errors.NotFoundError:
        return {name}
    return set()
