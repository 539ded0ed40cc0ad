"""Validation of apps/v1 DaemonSet as pkg/apis/apps/validation (ValidateDaemonSet,
ValidateDaemonSetUpdate) and the apps/v1 strategy (an immutable selector) do it, with
kube-apiserver's messages; registers its schema and validator. Objects are validated as
defaulted. Pure: no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from common import errors
from common.errors import Cause
from common.fielderrors import invalid, not_supported, required
from common.labels import LabelSelector, label_selector_causes, selector_from_object
from common.workloads import ON_DELETE, ROLLING_UPDATE, default_daemonset
from control.validation.apps import validate_template
from control.validation.decode import register_schema
from control.validation.dispatch import register_validator
from control.validation.intorpercent import (
    int_or_percent_value,
    not_over_100_percent,
    positive_int_or_percent,
)
from control.validation.meta import (
    validate_nonnegative,
)
from control.validation.schema_history import DaemonSet
from control.validation.workload import as_dict as _dict
from control.validation.workload import empty_selector, validate_workload

Obj = Mapping[str, Any]


def validate_rolling_update(rolling: Obj, path: str) -> list[Cause]:
    """ValidateRollingUpdateDaemonSet: exactly one of maxUnavailable and maxSurge non-zero."""
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    causes = positive_int_or_percent(unavailable, f"{path}.maxUnavailable")
    causes += positive_int_or_percent(surge, f"{path}.maxSurge")
    causes += not_over_100_percent(unavailable, f"{path}.maxUnavailable")
    causes += not_over_100_percent(surge, f"{path}.maxSurge")
    has_unavailable = int_or_percent_value(unavailable) != 0
    has_surge = int_or_percent_value(surge) != 0
    if has_unavailable and has_surge:
        causes.append(
            invalid(f"{path}.maxSurge", surge, "may not be set when maxUnavailable is non-zero")
        )
    elif not has_unavailable and not has_surge:
        causes.append(required(f"{path}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return causes


def validate_update_strategy(strategy: Any, path: str) -> list[Cause]:
    """ValidateDaemonSetUpdateStrategy."""
    strategy = _dict(strategy)
    kind = strategy.get("type")
    if kind == ON_DELETE:
        return []
    if kind != ROLLING_UPDATE:
        return [not_supported(path, dict(strategy), (ROLLING_UPDATE, ON_DELETE))]
    rolling = strategy.get("rollingUpdate")
    if rolling is None:
        return [required(f"{path}.rollingUpdate")]
    return validate_rolling_update(_dict(rolling), f"{path}.rollingUpdate")


def _selector(spec: Obj, path: str) -> tuple[list[Cause], LabelSelector | None]:
    sel = spec.get("selector")
    causes = label_selector_causes(sel, f"{path}.selector")
    try:
        return causes, selector_from_object(sel, f"{path}.selector")
    except errors.BadRequestError:
        return causes, None


def validate_daemonset_spec(spec: Any, path: str = "spec") -> list[Cause]:
    """ValidateDaemonSetSpec, in Kubernetes' order."""
    spec = _dict(spec)
    causes, selector = _selector(spec, path)
    template = _dict(spec.get("template"))
    labels = _dict(template.get("metadata")).get("labels")
    if selector is not None and not selector.matches(_dict(labels)):
        causes.append(
            invalid(
                f"{path}.template.metadata.labels",
                labels,
                "`selector` does not match template `labels`",
            )
        )
    sel = spec.get("selector")
    if isinstance(sel, Mapping):
        causes += empty_selector(sel, f"{path}.selector", "daemonset")
    # The selector was checked above: the template's own checks get one that matches anything.
    causes += validate_template(template, LabelSelector(), f"{path}.template", "DaemonSet")
    causes += validate_nonnegative(spec.get("minReadySeconds"), f"{path}.minReadySeconds")
    causes += validate_update_strategy(spec.get("updateStrategy"), f"{path}.updateStrategy")
    limit = spec.get("revisionHistoryLimit")
    causes += validate_nonnegative(limit, f"{path}.revisionHistoryLimit")
    return causes


def validate_daemonset(obj: Obj, old: Obj | None = None) -> list[Cause]:
    """ValidateDaemonSet, and on update ValidateDaemonSetUpdate and the immutable selector."""
    defaulted = copy.deepcopy(dict(obj))
    default_daemonset(defaulted)
    return validate_workload(defaulted, old, validate_daemonset_spec)


STATUS_COUNTS = (
    "currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady",
    "observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable",
    "collisionCount",
)  # fmt: skip


def validate_daemonset_status(obj: Obj, old: Obj) -> list[Cause]:
    """ValidateDaemonSetStatusUpdate: counts not negative, ``collisionCount`` never lowered."""
    status, before = _dict(obj.get("status")), _dict(old.get("status"))
    causes: list[Cause] = []
    for key in STATUS_COUNTS:
        causes += validate_nonnegative(status.get(key), f"status.{key}")
    was, now = before.get("collisionCount"), status.get("collisionCount")
    if isinstance(was, int) and (not isinstance(now, int) or now < was):
        value = now if isinstance(now, int) else 0
        causes.append(invalid("status.collisionCount", value, "cannot be decremented"))
    return causes


register_schema("DaemonSet", DaemonSet)
register_validator("DaemonSet", validate_daemonset)
