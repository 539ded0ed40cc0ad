"""The ``binding`` subresource of pods: ``POST pods/NAME/binding`` sets ``spec.nodeName`` once,
with the ``PodScheduled=True`` condition, compare-and-set on the pod's resourceVersion (retried
while other writers move it), as kube-apiserver's BindingREST. The first try starts from the
watch cache's pod, the retries from the store's; where the cache keeps pods without their
managedFields (the controller process's), every try starts from the store's, which the write
keeps whole. Goes through the registry.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from common import conditions, errors, meta
from common.resources import must

if TYPE_CHECKING:
    from control.registry.registry import Registry

Obj = dict[str, Any]


def bind(reg: Registry, namespace: str, name: str, body: Any, attempts: int) -> Obj:
    """``POST pods/NAME/binding``: set ``spec.nodeName`` once, with ``PodScheduled=True``."""
    target = (body or {}).get("target") if isinstance(body, dict) else None
    if not isinstance(target, dict) or not target.get("name"):
        raise errors.InvalidError(
            f'Binding "{name}" is invalid: target.name: Required value',
            [errors.Cause("target.name", "FieldValueRequired", "Required value")],
        )
    rt = must("pods")
    node = str(target["name"])
    # A trimmed cache's pod is no base for a write of the whole pod (it would drop the
    # managedFields), and that process holds its pods in its informers: its cache of them,
    # loaded for this read alone, would hold every pod a second time.
    from_cache = not reg.cache.trims(rt)
    for attempt in range(attempts):
        # The watch cache's pod first (the scheduler has just seen it there): the write is a
        # compare-and-set on its resourceVersion, so a stale one costs a conflict, then a read.
        pod = _writable(reg.get(rt, namespace, name, cached=from_cache and attempt == 0))
        current = pod["spec"].get("nodeName")
        if current:
            raise errors.ConflictError(
                f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} is '
                f'already assigned to node "{current}"'
            )
        if pod["metadata"].get("deletionTimestamp"):
            raise errors.ConflictError(f'pod "{name}" is being deleted, cannot be assigned')
        pod["spec"]["nodeName"] = node
        set_condition(pod, "PodScheduled", "True", "", "", reg.clock())
        try:
            reg.store.update("pods", pod, expected_rv=int(pod["metadata"]["resourceVersion"]))
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
        except errors.ConflictError:
            continue
    raise errors.ConflictError(f'pod "{name}" changed too often to be bound')


def _writable(pod: Obj) -> Obj:
    """A copy of what a bind changes (metadata, spec, status and its conditions), sharing the
    rest with ``pod``, which may be the watch cache's own object."""
    status = pod.get("status") or {}
    conds = [dict(c) for c in status.get("conditions") or []]
    return {**pod, "metadata": dict(pod["metadata"]), "spec": dict(pod["spec"]),
            "status": {**status, "conditions": conds}}  # fmt: skip


def set_condition(
    obj: Obj, ctype: str, status: str, reason: str, message: str, now: dt.datetime
) -> None:
    current = obj.setdefault("status", {}).setdefault("conditions", [])
    previous = conditions.find(current, ctype)
    probed = previous.get("lastProbeTime") if previous is not None else None
    cond = conditions.build(ctype, status, meta.timestamp(now), reason, message,
                            previous=previous, lastProbeTime=probed)  # fmt: skip
    conditions.upsert(current, cond)
