"""Status conditions, built and updated in one place for every kind (pods, nodes, deployments,
namespaces): ``lastTransitionTime`` moves only when the status changes, as every Kubernetes
controller's ``SetCondition`` does. Pure: the caller passes the timestamp."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Obj = dict[str, Any]


def find(conditions: Iterable[Mapping[str, Any]] | None, ctype: str) -> Obj | None:
    """The condition of type ``ctype`` (the stored dict itself), or None."""
    for c in conditions or ():
        if c.get("type") == ctype:
            return c  # type: ignore[return-value]
    return None


def is_true(obj: Mapping[str, Any], ctype: str) -> bool:
    """Whether ``obj``'s status holds condition ``ctype`` with status True (a node Ready)."""
    status = obj.get("status")
    found = find(status.get("conditions") if isinstance(status, Mapping) else None, ctype)
    return found is not None and found.get("status") == "True"


def build(
    ctype: str,
    status: str,
    stamp: str,
    reason: str = "",
    message: str = "",
    *,
    previous: Mapping[str, Any] | None = None,
    keep_empty: bool = False,
    **times: Any,
) -> Obj:
    """A condition whose ``lastTransitionTime`` is ``previous``'s while the status stays and
    ``stamp`` when it changes. ``times`` adds the kind's own time fields (``lastProbeTime``,
    ``lastHeartbeatTime``, ``lastUpdateTime``); an empty reason or message is left out unless
    ``keep_empty`` (the kinds whose API always writes them)."""
    same = previous is not None and previous.get("status") == status
    since = previous.get("lastTransitionTime") if same and previous is not None else None
    cond: Obj = {"type": ctype, "status": status, **times, "lastTransitionTime": since or stamp}
    for key, value in (("reason", reason), ("message", message)):
        if value or keep_empty:
            cond[key] = value
    return cond


def upsert(conditions: list[Obj], cond: Obj) -> None:
    """Put ``cond`` in place of the condition of its type, or at the end."""
    for i, c in enumerate(conditions):
        if c.get("type") == cond["type"]:
            conditions[i] = cond
            return
    conditions.append(cond)


def without(conditions: Iterable[Obj] | None, ctype: str) -> list[Obj]:
    return [c for c in conditions or () if c.get("type") != ctype]
