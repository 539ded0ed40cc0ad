"""Controller references and Kubernetes' claim rules (``ClaimObject`` in controller_ref_manager.go),
shared by the ReplicaSet controller (pods) and the Deployment controller (ReplicaSets).

A controller keeps what it controls and still selects; releases what it controls but no longer
selects (unless it is being deleted); adopts orphans it selects (unless either is being deleted);
never touches what another controller owns. Pure: objects in, decisions out.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from common.labels import LabelSelector

Obj = dict[str, Any]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def controller_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ownerReference with ``controller: true``, if any."""
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller") is True:
            return ref  # type: ignore[no-any-return]
    return None


def controller_uid(obj: Mapping[str, Any]) -> str:
    ref = controller_of(obj)
    return str(ref.get("uid") or "") if ref else ""


def controller_ref(owner: Mapping[str, Any]) -> Obj:
    """metav1.NewControllerRef: what a controller puts into what it creates or adopts."""
    m = _meta(owner)
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": m.get("name", ""),
        "uid": m.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def deleting(obj: Mapping[str, Any]) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


def with_owner(obj: Obj, owner: Mapping[str, Any]) -> Obj:
    """A copy of ``obj`` adopted by ``owner``."""
    out = copy.deepcopy(obj)
    refs = out["metadata"].setdefault("ownerReferences", [])
    refs.append(controller_ref(owner))
    return out


def without_owner(obj: Obj, owner_uid: str) -> Obj:
    """A copy of ``obj`` released by the owner with ``owner_uid`` (its reference removed)."""
    out = copy.deepcopy(obj)
    m = out["metadata"]
    refs = [r for r in m.get("ownerReferences") or [] if r.get("uid") != owner_uid]
    if refs:
        m["ownerReferences"] = refs
    else:
        m.pop("ownerReferences", None)
    return out


@dataclass
class Claims:
    """``owned``: what the controller keeps (adoptions included, as adopted copies);
    ``adopt``/``release``: the adopted and released copies to write."""

    owned: list[Obj] = field(default_factory=list)
    adopt: list[Obj] = field(default_factory=list)
    release: list[Obj] = field(default_factory=list)


def claim(owner: Mapping[str, Any], selector: LabelSelector, candidates: Iterable[Obj]) -> Claims:
    m = _meta(owner)
    uid, namespace = m.get("uid"), m.get("namespace")
    owner_deleting = deleting(owner)
    out = Claims()
    for obj in candidates:
        labels = _meta(obj).get("labels") or {}
        ref = controller_of(obj)
        if ref is not None:
            if ref.get("uid") != uid:
                continue  # another controller's
            if selector.matches(labels):
                out.owned.append(obj)
            elif not owner_deleting:
                out.release.append(without_owner(obj, str(uid)))
            continue
        if owner_deleting or not selector.matches(labels) or deleting(obj):
            continue
        if namespace and _meta(obj).get("namespace") != namespace:
            continue
        adopted = with_owner(obj, owner)
        out.adopt.append(adopted)
        out.owned.append(adopted)
    return out
