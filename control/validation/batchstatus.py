"""Validation of a batch/v1 Job's status written through ``/status`` (ValidateJobStatusUpdate):
counters never negative nor going down, uncounted pods listed once, terminal conditions that
stay. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common import batch
from common.errors import Cause
from common.fielderrors import INVALID, duplicate, invalid
from control.validation.meta import validate_nonnegative

Obj = Mapping[str, Any]


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _omit(path: str, detail: str) -> Cause:
    """field.Invalid with field.OmitValueType: no value is printed."""
    return Cause(path, INVALID, f"Invalid value: {detail}")


def _uncounted(status: Obj) -> list[Cause]:
    seen: set[str] = set()
    causes: list[Cause] = []
    uncounted = _dict(status.get("uncountedTerminatedPods"))
    for key in ("succeeded", "failed"):
        for i, uid in enumerate(_list(uncounted.get(key))):
            path = f"status.uncountedTerminatedPods.{key}[{i}]"
            if not uid:
                causes.append(invalid(path, uid, "must not be empty"))
            elif uid in seen:
                causes.append(duplicate(path, uid))
            seen.add(uid)
    return causes


def validate_job_status_update(obj: Obj, old: Obj) -> list[Cause]:
    """ValidateJobStatusUpdate: counters that are never negative nor go down, uncounted pods
    listed once, and terminal conditions that stay."""
    status, old_status = _dict(obj.get("status")), _dict(old.get("status"))
    causes: list[Cause] = []
    for key in ("active", "succeeded", "failed", "ready", "terminating"):
        causes.extend(validate_nonnegative(status.get(key), f"status.{key}"))
    causes.extend(_uncounted(status))
    causes.extend(_success_criteria(obj))
    for key in ("failed", "succeeded"):
        if key == "succeeded" and _scalable(obj):
            continue  # an elastic Indexed Job scaled down drops its indexes beyond completions
        if int(status.get(key) or 0) < int(old_status.get(key) or 0):
            causes.append(
                invalid(f"status.{key}", status.get(key) or 0, f"cannot decrease the {key} counter")
            )
    for kind in (batch.FAILED_CONDITION, batch.COMPLETE, batch.FAILURE_TARGET):
        if batch.condition_true(dict(old), kind) and not batch.condition_true(dict(obj), kind):
            detail = f"cannot disable the terminal {kind}=True condition"
            causes.append(_omit("status.conditions", detail))
    if batch.is_finished(dict(obj)) and int(status.get("active") or 0) > 0:
        causes.append(
            invalid("status.active", status["active"], "active>0 is invalid for finished job")
        )
    causes.extend(_success_criteria_transition(obj, old))
    return causes


def _scalable(job: Obj) -> bool:
    """An Indexed Job with completions equal to parallelism: it may be scaled down, so its
    succeeded counter may go down."""
    spec = _dict(job.get("spec"))
    return spec.get("completionMode") == batch.INDEXED and spec.get("completions") == spec.get(
        "parallelism"
    )


def _success_criteria(job: Obj) -> list[Cause]:
    """SuccessCriteriaMet never with Failed or FailureTarget; a Job with a successPolicy is
    Complete only through it."""
    met = batch.condition_true(dict(job), batch.SUCCESS_CRITERIA_MET)
    causes: list[Cause] = []
    for kind in (batch.FAILED_CONDITION, batch.FAILURE_TARGET):
        if met and batch.condition_true(dict(job), kind):
            detail = f"cannot set SuccessCriteriaMet=True and {kind}=true conditions"
            causes.append(_omit("status.conditions", detail))
    policy = _dict(job.get("spec")).get("successPolicy")
    if policy is not None and not met and batch.condition_true(dict(job), batch.COMPLETE):
        detail = (
            "cannot set Complete=True for Job with SuccessPolicy unless SuccessCriteriaMet=True"
        )
        causes.append(_omit("status.conditions", detail))
    return causes


def _success_criteria_transition(job: Obj, old: Obj) -> list[Cause]:
    met = batch.condition_true(dict(job), batch.SUCCESS_CRITERIA_MET)
    was = batch.condition_true(dict(old), batch.SUCCESS_CRITERIA_MET)
    if was and not met:
        return [_omit("status.conditions", "cannot disable the SuccessCriteriaMet=True condition")]
    if met and not was and batch.condition_true(dict(old), batch.COMPLETE):
        detail = "cannot set SuccessCriteriaMet=True for Job already has Complete=true conditions"
        return [_omit("status.conditions", detail)]
    return []
