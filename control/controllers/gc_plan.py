"""The garbage collector's decisions (pkg/controller/garbagecollector): owners are matched by UID;
a dependent whose owners are all gone is deleted; references to gone owners are dropped from a
dependent that still has a live one; an owner deleted with ``orphan`` first has its dependents'
references removed; an owner deleted with ``foregroundDeletion`` has its dependents deleted and
keeps its finalizer until no dependent with ``blockOwnerDeletion`` remains. ``plan_item`` plans one
object from its neighbourhood, ``needs`` says which work an object asks for. Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from common.resources import ResourceType, by_kind
from control.registry.deletion import (
    BACKGROUND_POLICY,
    FOREGROUND,
    FOREGROUND_POLICY,
    ORPHAN,
    ORPHAN_POLICY,
    has_finalizer,
)

Obj = dict[str, Any]
Ref = Mapping[str, Any]
# Kubernetes' two work queues of the collector, here two kinds of key of one queue.
ATTEMPT_TO_DELETE = "attemptToDelete"
ATTEMPT_TO_ORPHAN = "attemptToOrphan"


@dataclass
class Deletion:
    obj: Obj
    policy: str
    dangling: list[Ref]  # owners believed gone: the shell checks them again before deleting


@dataclass
class GcPlan:
    # Dependents with references to gone (or foreground-deleting) owners removed.
    strip: list[Obj] = field(default_factory=list)
    delete: list[Deletion] = field(default_factory=list)
    # Owners deleted with Orphan: their dependents released, then the finalizer removed.
    orphan: list[tuple[Obj, list[Obj]]] = field(default_factory=list)
    # Owners deleted in the foreground whose blocking dependents are all gone.
    unblock: list[Obj] = field(default_factory=list)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _uid(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("uid") or "")


def _deleting(obj: Mapping[str, Any]) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


def owner_type(ref: Ref) -> ResourceType | None:
    return by_kind(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""))


def owner_key(dependent: Mapping[str, Any], ref: Ref) -> tuple[str, str, str] | None:
    """(resource, namespace, name) of a reference's owner; None for a kind tinykube lacks."""
    rt = owner_type(ref)
    if rt is None:
        return None
    namespace = str(_meta(dependent).get("namespace") or "") if rt.namespaced else ""
    return rt.plural, namespace, str(ref.get("name") or "")


def without_refs(obj: Obj, uids: set[str]) -> Obj:
    out = copy.deepcopy(obj)
    refs = [r for r in out["metadata"].get("ownerReferences") or [] if r.get("uid") not in uids]
    if refs:
        out["metadata"]["ownerReferences"] = refs
    else:
        out["metadata"].pop("ownerReferences", None)
    return out


def _own_policy(obj: Mapping[str, Any]) -> str:
    if has_finalizer(obj, ORPHAN):
        return ORPHAN_POLICY
    if has_finalizer(obj, FOREGROUND):
        return FOREGROUND_POLICY
    return BACKGROUND_POLICY


def _classify(
    dependent: Obj, present: Mapping[tuple[str, str, str], Obj]
) -> tuple[list[Ref], list[Ref], list[Ref]]:
    """classifyReferences: (solid, dangling, waiting for the dependents' deletion)."""
    solid: list[Ref] = []
    dangling: list[Ref] = []
    waiting: list[Ref] = []
    for ref in _meta(dependent).get("ownerReferences") or []:
        key = owner_key(dependent, ref)
        if key is None:
            solid.append(ref)  # an owner kind tinykube does not serve: never collect for it
            continue
        owner = present.get(key)
        if owner is None or _uid(owner) != ref.get("uid"):
            dangling.append(ref)
        elif _deleting(owner) and has_finalizer(owner, FOREGROUND):
            waiting.append(ref)
        else:
            solid.append(ref)
    return solid, dangling, waiting


def plan_collection(objects: Iterable[tuple[str, Obj]]) -> GcPlan:
    """``objects``: (resource plural, object) for everything the collector looks at."""
    everything = list(objects)
    present = {
        (res, str(_meta(o).get("namespace") or ""), str(_meta(o).get("name"))): o
        for res, o in everything
    }
    dependents: dict[str, list[Obj]] = {}
    for _, obj in everything:
        for ref in _meta(obj).get("ownerReferences") or []:
            dependents.setdefault(str(ref.get("uid")), []).append(obj)
    plan = GcPlan()
    for _, obj in everything:
        _plan_item(plan, obj, present, dependents.get(_uid(obj), []))
    return plan


def plan_item(
    obj: Obj, owners: Mapping[tuple[str, str, str], Obj], dependents: list[Obj]
) -> GcPlan:
    """The plan of one object: ``owners`` holds those of its owners that exist, keyed by
    ``owner_key``; ``dependents`` every object with a reference to its uid."""
    plan = GcPlan()
    _plan_item(plan, obj, owners, dependents)
    return plan


def _plan_item(
    plan: GcPlan, obj: Obj, present: Mapping[tuple[str, str, str], Obj], deps: list[Obj]
) -> None:
    _plan_owner(plan, obj, deps)
    if _meta(obj).get("ownerReferences") and not _deleting(obj):
        _plan_dependent(plan, obj, present, bool(deps))


def _plan_owner(plan: GcPlan, owner: Obj, deps: list[Obj]) -> None:
    if not _deleting(owner):
        return
    uid = _uid(owner)
    if has_finalizer(owner, ORPHAN):
        plan.orphan.append((owner, [without_refs(d, {uid}) for d in deps]))
    elif has_finalizer(owner, FOREGROUND):
        blocking = [
            d
            for d in deps
            for r in _meta(d).get("ownerReferences") or []
            if r.get("uid") == uid and r.get("blockOwnerDeletion") is True
        ]
        if not blocking:
            plan.unblock.append(owner)


def _plan_dependent(
    plan: GcPlan, obj: Obj, present: Mapping[tuple[str, str, str], Obj], has_dependents: bool
) -> None:
    solid, dangling, waiting = _classify(obj, present)
    if solid:
        gone = {str(r.get("uid")) for r in [*dangling, *waiting]}
        if gone:
            plan.strip.append(without_refs(obj, gone))
        return
    if waiting and has_dependents:
        plan.delete.append(Deletion(obj, FOREGROUND_POLICY, dangling))
        return
    plan.delete.append(Deletion(obj, _own_policy(obj), dangling))


def needs(obj: Obj, owners: Mapping[tuple[str, str, str], Obj]) -> tuple[str, ...]:
    """The work ``obj`` asks for by itself, judged from ``owners`` (those found, by
    ``owner_key``): an owner being deleted with ``orphan`` or ``foregroundDeletion``, or a
    dependent with an owner gone or waiting for its dependents' deletion."""
    if _deleting(obj):
        work = []
        if has_finalizer(obj, ORPHAN):
            work.append(ATTEMPT_TO_ORPHAN)
        if has_finalizer(obj, FOREGROUND):
            work.append(ATTEMPT_TO_DELETE)
        return tuple(work)
    if not _meta(obj).get("ownerReferences"):
        return ()
    _, dangling, waiting = _classify(obj, owners)
    return (ATTEMPT_TO_DELETE,) if dangling or waiting else ()


def deleting_in_foreground(obj: Mapping[str, Any]) -> bool:
    return _deleting(obj) and has_finalizer(obj, FOREGROUND)


def released(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Ref]:
    """referencesDiffs: the references of ``old`` that ``new`` dropped, or that no longer block
    their owner's deletion (their owners, if waiting on them, may go now)."""
    now = {str(r.get("uid")): r for r in _meta(new).get("ownerReferences") or []}
    out: list[Ref] = []
    for ref in _meta(old).get("ownerReferences") or []:
        kept = now.get(str(ref.get("uid")))
        unblocked = ref.get("blockOwnerDeletion") is True and not (kept or {}).get(
            "blockOwnerDeletion"
        )
        if kept is None or unblocked:
            out.append(ref)
    return out
