"""Validation of batch/v1 CronJob as pkg/apis/batch/validation does it (ValidateCronJobCreate,
ValidateCronJobUpdate): the schedule in robfig/cron's words, the time zone, the concurrency
policy, the job template (validateJobSpec, shared with Job) and the 52-character name that
leaves room for the Job's ``-<minutes>`` suffix; registers the schema and validator. Objects are
validated as defaulted, as the API server defaults first. Pure: no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from common import cron, names
from common.defaults import default_pod
from common.errors import Cause
from common.fielderrors import invalid, not_supported, required
from control.validation.batch import validate_job_spec_fields
from control.validation.decode import register_schema
from control.validation.dispatch import register_validator
from control.validation.meta import (
    validate_nonnegative,
    validate_object_meta,
    validate_object_meta_update,
)
from control.validation.schema_cronjob import CronJob

Obj = Mapping[str, Any]

POLICIES = ("Allow", "Forbid", "Replace")
# A Job name is a DNS-1035 label (63) and the controller adds an 11-character "-<minutes>".
MAX_NAME_LENGTH = 63 - 11


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def default_cronjob(obj: dict[str, Any]) -> None:
    """SetDefaults_CronJob (and the pod defaults of its template), in place (idempotent)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    template = _dict(_dict(spec.get("jobTemplate")).get("spec")).get("template")
    if isinstance(template, dict):
        default_pod(template)


def _validate_schedule(schedule: str, allow_tz: bool, zone: Any, path: str) -> list[Cause]:
    """validateScheduleFormat."""
    causes: list[Cause] = []
    error = cron.schedule_error(schedule)
    if error:
        causes.append(invalid(path, schedule, error))
    if allow_tz and "TZ" in schedule and zone is not None:
        causes.append(
            invalid(path, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule")
        )
    elif not allow_tz and "TZ" in schedule:
        detail = "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
        causes.append(invalid(path, schedule, detail))
    return causes


def validate_time_zone(zone: Any, path: str) -> list[Cause]:
    """validateTimeZone: an IANA name that the zone database knows."""
    if zone is None:
        return []
    if zone == "":
        return [invalid(path, zone, "timeZone must be nil or non-empty string")]
    if str(zone).lower() == "local":
        return [invalid(path, zone, "timeZone must be an explicit time zone as defined in "
                        "https://www.iana.org/time-zones")]  # fmt: skip
    try:
        cron.load_zone(str(zone))
    except cron.CronError as e:
        return [invalid(path, zone, str(e))]
    return []


def _validate_template(template: Obj, path: str) -> list[Cause]:
    """ValidateJobTemplateSpec: the Job spec, whose selector is always generated."""
    spec = _dict(template.get("spec"))
    # Kubernetes defaults a job template's pods, not its Job fields (SetDefaults_Job is the
    # Job's alone), and validates it so.
    causes = validate_job_spec_fields(spec, f"{path}.spec")
    if spec.get("selector") is not None:
        causes.append(
            invalid(f"{path}.spec.selector", spec["selector"], "`selector` will be auto-generated")
        )
    if spec.get("manualSelector") is True:
        causes.append(not_supported(f"{path}.spec.manualSelector", True, ("nil", "false")))
    return causes


def validate_cronjob_spec(spec: Any, old: Any, path: str = "spec") -> list[Cause]:
    """validateCronJobSpec (``old`` is None on create)."""
    spec, old_spec = _dict(spec), _dict(old) if old is not None else None
    causes: list[Cause] = []
    schedule = spec.get("schedule") or ""
    if not schedule:
        causes.append(required(f"{path}.schedule"))
    else:
        allow_tz = old_spec is not None and "TZ" in str(old_spec.get("schedule") or "")
        causes += _validate_schedule(str(schedule), allow_tz, spec.get("timeZone"),
                                     f"{path}.schedule")  # fmt: skip
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None:
        causes += validate_nonnegative(deadline, f"{path}.startingDeadlineSeconds")
    if old_spec is None or old_spec.get("timeZone") != spec.get("timeZone"):
        causes += validate_time_zone(spec.get("timeZone"), f"{path}.timeZone")
    policy = spec.get("concurrencyPolicy") or ""
    if not policy:
        causes.append(required(f"{path}.concurrencyPolicy"))
    elif policy not in POLICIES:
        causes.append(not_supported(f"{path}.concurrencyPolicy", policy, POLICIES))
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        if spec.get(key) is not None:
            causes += validate_nonnegative(spec[key], f"{path}.{key}")
    return causes + _validate_template(_dict(spec.get("jobTemplate")), f"{path}.jobTemplate")


def validate_cronjob(obj: Obj, old: Obj | None = None) -> list[Cause]:
    """ValidateCronJobCreate, or ValidateCronJobUpdate when ``old`` is given."""
    defaulted = copy.deepcopy(dict(obj))
    default_cronjob(defaulted)
    m = _dict(defaulted.get("metadata"))
    if old is not None:
        causes = validate_object_meta_update(m, _dict(old.get("metadata")))
        return causes + validate_cronjob_spec(defaulted.get("spec"), _dict(old.get("spec")))
    causes = validate_object_meta(m, True, names.name_is_dns_subdomain)
    causes += validate_cronjob_spec(defaulted.get("spec"), None)
    name = str(m.get("name") or "")
    if len(name) > MAX_NAME_LENGTH:
        causes.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    return causes


register_schema("CronJob", CronJob)
register_validator("CronJob", validate_cronjob)
