"""What a DELETE does to an object, as Kubernetes' generic registry decides it: the propagation
policy, the garbage collector's finalizers it adds or removes, and whether the object goes at once
or stays with a ``deletionTimestamp`` until its grace period is over and no finalizer remains.
Pure: objects in, decisions out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
# The namespace controller's finalizer, in a Namespace's spec.finalizers.
NAMESPACE_FINALIZER = "kubernetes"
BACKGROUND_POLICY, FOREGROUND_POLICY, ORPHAN_POLICY = "Background", "Foreground", "Orphan"


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def propagation_policy(options: Mapping[str, Any]) -> str | None:
    """The policy a DeleteOptions asks for; ``None`` lets the object's own finalizers decide."""
    orphan = options.get("orphanDependents")
    if orphan is not None:
        return ORPHAN_POLICY if orphan else BACKGROUND_POLICY
    policy = options.get("propagationPolicy")
    return str(policy) if policy else None


def gc_finalizers(finalizers: list[str], policy: str | None) -> list[str]:
    """deletionFinalizersForGarbageCollection: Orphan asks for ``orphan``, Foreground for
    ``foregroundDeletion``, Background for neither; without a policy the object keeps what it has
    (the default of every kind tinykube serves is Background)."""
    if policy is None:
        return list(finalizers)
    out = [f for f in finalizers if f not in (ORPHAN, FOREGROUND)]
    if policy == ORPHAN_POLICY:
        out.append(ORPHAN)
    elif policy == FOREGROUND_POLICY:
        out.append(FOREGROUND)
    return out


def spec_finalizers(obj: Mapping[str, Any]) -> list[str]:
    """A Namespace's ``spec.finalizers``: the namespace controller must empty it first."""
    if obj.get("kind") != "Namespace":
        return []
    return [str(f) for f in _dict(obj.get("spec")).get("finalizers") or []]


def finalizers_of(obj: Mapping[str, Any]) -> list[str]:
    """Everything that still holds a deleted object: ``metadata.finalizers`` and, for a
    Namespace, ``spec.finalizers``."""
    return [str(f) for f in _dict(obj.get("metadata")).get("finalizers") or []] + spec_finalizers(
        obj
    )


def removable(obj: Mapping[str, Any]) -> bool:
    """A deleted object goes once its grace period is over and no finalizer remains."""
    m = _dict(obj.get("metadata"))
    return (
        bool(m.get("deletionTimestamp"))
        and int(m.get("deletionGracePeriodSeconds") or 0) == 0
        and not finalizers_of(obj)
    )


def emptied_by_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """shouldDeleteDuringUpdate: an update that leaves a deleted object (its grace period over)
    without finalizers deletes it instead of writing it."""
    m = _dict(old.get("metadata"))
    return (
        bool(m.get("deletionTimestamp"))
        and int(m.get("deletionGracePeriodSeconds") or 0) == 0
        and not finalizers_of(new)
    )


def has_finalizer(obj: Mapping[str, Any], name: str) -> bool:
    return name in (_dict(obj.get("metadata")).get("finalizers") or [])


def without_finalizer(obj: dict[str, Any], name: str) -> dict[str, Any]:
    """``obj`` (changed in place) without finalizer ``name``."""
    m = obj.setdefault("metadata", {})
    kept = [f for f in m.get("finalizers") or [] if f != name]
    if kept:
        m["finalizers"] = kept
    else:
        m.pop("finalizers", None)
    return obj
