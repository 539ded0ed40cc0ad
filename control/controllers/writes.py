"""Compare-and-set writes of the controllers through the registry: an update or a status update
at the resourceVersion the controller read, which loses quietly to any concurrent change (the next
pass re-reads and re-plans, as level-triggered loops do). Shell."""

from __future__ import annotations

import logging
from typing import Any

from common import errors
from common.resources import ResourceType
from control.registry.registry import Registry

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class SyncError(Exception):
    """A create or delete of a sync failed; the sync runs again with its key's back-off (the
    runner retries any error but an ApiError that retrying cannot fix, as this one may be)."""


def _where(obj: Obj) -> tuple[str, str]:
    m = obj["metadata"]
    return str(m.get("namespace") or ""), str(m["name"])


def replace(registry: Registry, rt: ResourceType, obj: Obj, *, sub: str = "") -> Obj | None:
    """PUT ``obj`` (or its status) at its resourceVersion; None when it changed or went away."""
    namespace, name = _where(obj)
    try:
        return registry.replace(rt, namespace, name, obj, sub=sub)
    except (errors.ConflictError, errors.NotFoundError) as e:
        log.debug("%s %s/%s: not written (%s)", rt.kind, namespace, name, e.reason)
        return None


def write_status(registry: Registry, rt: ResourceType, obj: Obj, status: Obj) -> Obj | None:
    """Write ``status`` unless it is what ``obj`` already has."""
    if (obj.get("status") or {}) == status:
        return obj
    return replace(registry, rt, {**obj, "status": status}, sub="status")


def write_all(registry: Registry, rt: ResourceType, objs: list[Obj]) -> bool:
    """Write each object (adoptions, releases); False if any lost to a concurrent change."""
    ok = True
    for obj in objs:
        ok = replace(registry, rt, obj) is not None and ok
    return ok


def delete(registry: Registry, rt: ResourceType, obj: Obj, **options: Any) -> bool:
    """DELETE ``obj`` (only that very object, by uid); True if it is gone or going."""
    namespace, name = _where(obj)
    body = {"preconditions": {"uid": obj["metadata"].get("uid")}, **options}
    try:
        registry.delete(rt, namespace, name, body)
    except errors.NotFoundError:
        return True
    except errors.ConflictError:
        return False
    return True


def force_delete(registry: Registry, rt: ResourceType, obj: Obj) -> bool:
    """Delete ``obj`` at once (grace period 0), only if it is still the same object (its uid);
    False when it is gone already or was replaced by another of the same name."""
    namespace, name = _where(obj)
    options = {"gracePeriodSeconds": 0, "preconditions": {"uid": obj["metadata"]["uid"]}}
    try:
        registry.delete(rt, namespace, name, options)
    except (errors.ConflictError, errors.NotFoundError) as e:
        log.info("%s %s/%s: not deleted (%s)", rt.kind, namespace, name, e.reason)
        return False
    return True
