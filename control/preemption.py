"""What the scheduler does once the preemption dry run chose a node (kube-scheduler's
prepareCandidate): each victim gets ``DisruptionTarget=True`` (PreemptionByScheduler), is deleted
gracefully (its uid as precondition: never a pod that took its name meanwhile) and gets a
``Preempted`` event; the preemptor's status gets ``nominatedNodeName``, and pods of lower
priority nominated to the same node lose theirs. Shell: writes through the Registry."""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterable
from typing import Any

from common import errors
from common.resources import must
from common.wellknown import DISRUPTION_TARGET, PREEMPTION_BY_SCHEDULER
from control import events
from control.registry.binding import set_condition
from control.registry.registry import Registry

log = logging.getLogger(__name__)

Obj = dict[str, Any]
PODS = must("pods")


def evict_victims(
    registry: Registry, preemptor: Obj, node: str, victims: Iterable[Obj], component: str
) -> None:
    """Mark and delete every victim; a victim already gone is no error."""
    uid = preemptor["metadata"].get("uid", "")
    scheduler = (preemptor.get("spec") or {}).get("schedulerName") or component
    message = f"{scheduler}: preempting to accommodate a higher priority pod"
    for victim in victims:
        ns, name = victim["metadata"]["namespace"], victim["metadata"]["name"]
        try:
            # The condition is a courtesy; the deletion is what makes room.
            with contextlib.suppress(errors.ConflictError):
                _mark(registry, victim, message)
            registry.delete(PODS, ns, name, {"preconditions": {"uid": victim["metadata"]["uid"]}})
        except errors.ApiError as e:
            log.info("pod %s/%s: not preempted: %s", ns, name, e)
            continue
        log.info("pod %s/%s: preempted on %s by %s", ns, name, node, preemptor["metadata"]["name"])
        events.record(
            registry, {**victim, "kind": "Pod", "apiVersion": "v1"}, "Normal", "Preempted",
            f"Preempted by pod {uid} on node {node}", component,
        )  # fmt: skip


def _mark(registry: Registry, victim: Obj, message: str) -> None:
    ns, name = victim["metadata"]["namespace"], victim["metadata"]["name"]
    current = registry.get(PODS, ns, name)
    if current["metadata"].get("uid") != victim["metadata"].get("uid"):
        raise errors.NotFoundError(f'pods "{name}" not found')
    obj = copy.deepcopy(current)
    set_condition(obj, DISRUPTION_TARGET, "True", PREEMPTION_BY_SCHEDULER, message,
                  registry.clock())  # fmt: skip
    registry.replace(PODS, ns, name, obj, sub="status")


def clear_nomination(registry: Registry, pod: Obj) -> None:
    """Take ``status.nominatedNodeName`` off a pod (ClearNominatedNodeName); best effort."""
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    try:
        current = registry.get(PODS, ns, name)
        if current["metadata"].get("uid") != pod["metadata"].get("uid"):
            return
        if not (current.get("status") or {}).get("nominatedNodeName"):
            return
        obj = copy.deepcopy(current)
        obj["status"].pop("nominatedNodeName", None)
        registry.replace(PODS, ns, name, obj, sub="status")
    except errors.ApiError as e:
        log.info("pod %s/%s: nomination not cleared: %s", ns, name, e)
