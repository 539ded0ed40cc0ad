"""Owners and what they own, looked up in the informer caches as Kubernetes' controllers do: the
``controllerUID`` index (objects by the uid of their controller), the orphans of a namespace,
``resolveControllerRef`` (a controllerRef names an owner of the expected kind that is in the
cache with that uid), and the owners whose selector picks an orphan. Reads only the caches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common.informer import Indexer
from control.controllers.ownership import controller_of, controller_uid
from control.controllers.replicaset_plan import selector_of

Obj = dict[str, Any]
# Index names on the shared caches (Kubernetes' ReplicaSet controller names its "controllerUID").
CONTROLLER_UID = "controllerUID"
ORPHANS = "orphansByNamespace"
NAMESPACE = "namespace"  # every shared informer has it


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def key_of(obj: Mapping[str, Any]) -> str:
    """The queue key of a namespaced object: ``namespace/name``."""
    return f"{namespace_of(obj)}/{obj['metadata']['name']}"


def by_controller_uid(obj: Obj) -> list[str]:
    uid = controller_uid(obj)
    return [uid] if uid else []


def orphans_by_namespace(obj: Obj) -> list[str]:
    return [] if controller_of(obj) is not None else [namespace_of(obj)]


INDEXERS = {CONTROLLER_UID: by_controller_uid, ORPHANS: orphans_by_namespace}


def resolve(cache: Indexer, namespace: str, ref: Mapping[str, Any] | None, kind: str) -> Obj | None:
    """resolveControllerRef: the cached owner ``ref`` names, if it is a ``kind`` with that uid."""
    if ref is None or ref.get("kind") != kind:
        return None
    owner = cache.get(f"{namespace}/{ref.get('name', '')}")
    if owner is None or (owner.get("metadata") or {}).get("uid") != ref.get("uid"):
        return None
    return owner


def owned(cache: Indexer, owner: Mapping[str, Any]) -> list[Obj]:
    """The cached objects of the owner's namespace whose controller is ``owner``."""
    m = owner.get("metadata") or {}
    ns = str(m.get("namespace") or "")
    return [o for o in cache.by_index(CONTROLLER_UID, str(m.get("uid"))) if namespace_of(o) == ns]


def selecting(cache: Indexer, obj: Mapping[str, Any]) -> list[Obj]:
    """The cached owners in the object's namespace whose (non-empty) selector matches its
    labels: who may adopt an orphan (GetPodReplicaSets, GetDeploymentsForReplicaSet)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if not labels:
        return []
    out = []
    for owner in cache.by_index(NAMESPACE, namespace_of(obj)):
        selector = selector_of(owner)
        if not selector.empty and selector.matches(labels):
            out.append(owner)
    return out
