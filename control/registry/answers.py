"""The errors the registry answers with, in kube-apiserver's words: a Conflict for a stale
resourceVersion or a failed precondition, a NotFound naming the object. Pure.
"""

from __future__ import annotations

from typing import Any

from common import errors
from common.resources import ResourceType

Obj = dict[str, Any]


def conflict(rt: ResourceType, name: str, why: str = "") -> errors.ConflictError:
    """kube-apiserver's Conflict: ``Operation cannot be fulfilled on pods "x": <why>``."""
    why = why or (
        "the object has been modified; please apply your changes to the latest version and "
        "try again"
    )
    return errors.ConflictError(
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": {why}',
        details={"name": name, "group": rt.group, "kind": rt.plural},
    )


def check_preconditions(rt: ResourceType, obj: Obj, pre: Obj) -> None:
    """DeleteOptions.preconditions against the stored object (the storage's Preconditions.Check)."""
    m = obj["metadata"]
    for key, field in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        given = pre.get(key)
        if given not in (None, "") and str(given) != str(m.get(key)):
            raise conflict(
                rt,
                m["name"],
                f"Precondition failed: {field} in precondition: {given}, "
                f"{field} in object meta: {m.get(key)}",
            )


def not_found(rt: ResourceType, name: str) -> errors.NotFoundError:
    return errors.NotFoundError(
        f'{rt.qualified} "{name}" not found',
        details={"name": name, "group": rt.group, "kind": rt.plural},
    )
