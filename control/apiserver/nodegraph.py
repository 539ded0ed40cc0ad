"""The Node authorizer's graph, read from the registry: for a node asking for a Secret,
ConfigMap, PersistentVolumeClaim or PersistentVolume, the names of those its pods use (a claim's
bound volume among them). ``control.apiserver.auth`` judges the request against this set.
As kube's graph (fed by informers) it is read from this process's watch cache, through its
``spec.nodeName`` index, without a store round trip; an object it does not find there is looked
for again in a consistent read, so a pod bound a moment ago is never a reason to refuse.
Shell (reads the watch cache).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
    a user who is not a node, or a resource the graph does not cover). ``name``: the object the
    request is about; when the cache's view does not relate it, the store's current one is
    asked."""
    if node is None or rt.plural not in NODE_RELATED or rt.group:
        return set()
    if rt.plural != "persistentvolumes" and not namespace:
        return set()
    found = _related(node, rt, namespace, name, fresh=False)
    if name and name not in found:
        found = _related(node, rt, namespace, name, fresh=True)
    return found


def _related(node: str, rt: ResourceType, namespace: str, name: str, *, fresh: bool) -> set[str]:
    if rt.plural == "persistentvolumes":
        return _node_volumes(_pods(node, "", fresh)) | _gone_volume(name)
    pods = _pods(node, namespace, fresh)
    if rt.plural == "serviceaccounts":  # whose tokens the node may request
        return {str((pod.get("spec") or {}).get("serviceAccountName") or "default")
                for pod in pods}  # fmt: skip
    return {n for pod in pods for n in podrefs.references(pod, rt.plural)}


def _pods(node: str, namespace: str, fresh: bool) -> Sequence[dict[str, Any]]:
    """The pods bound to ``node`` (in ``namespace`` when given): as the watch cache holds them,
    or, ``fresh``, as a consistent read finds them."""
    if not fresh:
        # A pod deleted through this process no longer relates its objects to its node; other
        # writes need not be waited for (a miss asks the store).
        return _registry().own_writes_cache(PODS, deletes_only=True).on_node(node, namespace)
    selector = f"spec.nodeName={node}"
    listed = _registry().list(PODS, namespace, field_selector=selector)
    items: list[dict[str, Any]] = listed["items"]
    return items


def _node_volumes(pods: Sequence[dict[str, Any]]) -> set[str]:
    """The PersistentVolumes bound to the claims of ``pods``."""
    names = set()
    for pod in pods:
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
