"""What the disruption controller and the eviction subresource both know of a
PodDisruptionBudget: which pods it covers, when a pod counts as healthy, how long an approved
eviction is waited for, and its ``DisruptionAllowed`` condition
(k8s.io/component-helpers/apps/poddisruptionbudget). Pure: the caller passes the time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from common import conditions, errors
from common.labels import LabelSelector, selector_from_object
from common.wellknown import (
    DISRUPTION_ALLOWED,
    INSUFFICIENT_PODS,
    READY,
    SUFFICIENT_PODS,
    SYNC_FAILED,
)

Obj = dict[str, Any]
# The disruption controller's DeletionTimeout: an eviction the API approved is expected to
# have deleted its pod within this time; after it the pod counts again.
DELETION_TIMEOUT = dt.timedelta(minutes=2)


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def selector_of(pdb: Mapping[str, Any]) -> LabelSelector:
    """The budget's selector (``nothing`` for a missing or unusable one)."""
    try:
        return selector_from_object(_m(pdb.get("spec")).get("selector"))
    except errors.BadRequestError:
        return LabelSelector.nothing()


def covers(pdb: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """Whether the budget applies to the pod: same namespace, selector matching its labels (in
    policy/v1 an empty selector matches every pod of the namespace, a missing one none)."""
    pm, bm = _m(pod.get("metadata")), _m(pdb.get("metadata"))
    if pm.get("namespace") != bm.get("namespace"):
        return False
    return selector_of(pdb).matches(_m(pm.get("labels")))


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """IsPodReady: the pod's Ready condition is True."""
    return conditions.is_true(pod, READY)


def _condition(status: Mapping[str, Any], value: str, reason: str, message: str, stamp: str) -> Obj:
    """A DisruptionAllowed metav1.Condition (message always present; the time moves only when
    the status does, as SetStatusCondition)."""
    previous = conditions.find(status.get("conditions"), DISRUPTION_ALLOWED)
    cond = conditions.build(
        DISRUPTION_ALLOWED, value, stamp, reason, message, previous=previous, keep_empty=True
    )
    return {
        "type": DISRUPTION_ALLOWED,
        "status": value,
        "observedGeneration": int(status.get("observedGeneration") or 0),
        "lastTransitionTime": cond["lastTransitionTime"],
        "reason": reason,
        "message": message,
    }


def allowed_condition(status: Mapping[str, Any], stamp: str) -> Obj:
    """UpdateDisruptionAllowedCondition: True/SufficientPods while disruptions are allowed,
    else False/InsufficientPods."""
    if int(status.get("disruptionsAllowed") or 0) > 0:
        return _condition(status, "True", SUFFICIENT_PODS, "", stamp)
    return _condition(status, "False", INSUFFICIENT_PODS, "", stamp)


def sync_failed_condition(status: Mapping[str, Any], message: str, stamp: str) -> Obj:
    """The disruption controller's failSafe: False/SyncFailed with the error."""
    return _condition(status, "False", SYNC_FAILED, message, stamp)


def find_allowed(status: Mapping[str, Any]) -> Obj | None:
    return conditions.find(status.get("conditions"), DISRUPTION_ALLOWED)


def set_condition(status: Obj, cond: Obj) -> None:
    """Put ``cond`` into ``status.conditions`` in place of its type."""
    conds = list(status.get("conditions") or [])
    conditions.upsert(conds, cond)
    status["conditions"] = conds
