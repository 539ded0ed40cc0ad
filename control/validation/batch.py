"""Validation of batch/v1 Job as pkg/apis/batch/validation does it (ValidateJob,
ValidateJobUpdate, ValidateJobUpdateStatus); registers the Job schema and validator with
control.validation. ``validate_job_spec_fields`` is validateJobSpec, shared with a CronJob's
job template. Objects are validated as defaulted and with their generated selector, as the API
server does both first. Pure: no I/O.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from typing import Any

from common import batch, errors, names
from common.errors import Cause
from common.fielderrors import (
    INVALID,
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
    too_many,
    validate_labels,
)
from common.labels import label_selector_causes, selector_from_object
from common.wellknown import (
    JOB_CONTROLLER_UID_LABEL,
    JOB_NAME_LABEL,
    LEGACY_JOB_CONTROLLER_UID_LABEL,
    LEGACY_JOB_NAME_LABEL,
)
from control.validation.decode import register_schema
from control.validation.dispatch import register_validator
from control.validation.meta import (
    FIELD_IMMUTABLE,
    validate_annotations,
    validate_nonnegative,
    validate_object_meta,
    validate_object_meta_update,
)
from control.validation.pod import validate_pod_spec
from control.validation.schema_batch import Job

Obj = Mapping[str, Any]

MAX_PARALLELISM_INDEXED = 100_000
MAX_FAILED_INDEXES = 100_000
MAX_RULES = 20
MAX_EXIT_CODE_VALUES = 255
MAX_CONDITION_PATTERNS = 20
CONDITION_STATUSES = ("False", "True", "Unknown")
REPLACEMENT_POLICIES = (batch.FAILED, batch.TERMINATING_OR_FAILED)
RESTART_POLICIES = ("OnFailure", "Never")


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _omit(path: str, detail: str) -> Cause:
    """field.Invalid with field.OmitValueType: no value is printed."""
    return Cause(path, INVALID, f"Invalid value: {detail}")


def _has_label(tmeta: Obj, key: str, value: str) -> list[Cause]:
    """ValidateHasLabel."""
    path = f"spec.template.metadata.labels[{key}]"
    labels = _dict(tmeta.get("labels"))
    if key not in labels:
        return [required(path, f"must be '{value}'")]
    if labels[key] != value:
        return [invalid(path, labels[key], f"must be '{value}'")]
    return []


def validate_generated_selector(job: Obj) -> list[Cause]:
    """validateGeneratedSelector (with the prefixed batch labels required, as on create)."""
    spec = _dict(job.get("spec"))
    if spec.get("manualSelector") is True or spec.get("selector") is None:
        return []
    m = _dict(job.get("metadata"))
    uid, name = str(m.get("uid") or ""), str(m.get("name") or "")
    causes = [] if uid else [required("metadata.uid")]
    tmeta = _dict(_dict(spec.get("template")).get("metadata"))
    expected = {
        LEGACY_JOB_CONTROLLER_UID_LABEL: uid,
        LEGACY_JOB_NAME_LABEL: name,
        JOB_CONTROLLER_UID_LABEL: uid,
        JOB_NAME_LABEL: name,
    }
    for key, value in expected.items():
        causes.extend(_has_label(tmeta, key, value))
    try:
        selector = selector_from_object(spec.get("selector"), "spec.selector")
    except errors.BadRequestError:
        return causes
    if not selector.matches(expected):
        causes.append(
            invalid("spec.selector", spec.get("selector"), "`selector` not auto-generated")
        )
    return causes


def _validate_template(template: Any, path: str) -> list[Cause]:
    """ValidatePodTemplateSpec (labels and annotations are named without "metadata")."""
    template = _dict(template)
    tmeta = _dict(template.get("metadata"))
    causes = validate_labels(_dict(tmeta.get("labels")), f"{path}.labels")
    causes.extend(validate_annotations(_dict(tmeta.get("annotations")), f"{path}.annotations"))
    spec = _dict(template.get("spec"))
    causes.extend(validate_pod_spec(spec, f"{path}.spec"))
    if spec.get("ephemeralContainers"):
        causes.append(
            forbidden(
                f"{path}.spec.ephemeralContainers",
                "ephemeral containers not allowed in pod template",
            )
        )
    return causes


def _validate_counts(spec: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for key in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ):
        causes.extend(validate_nonnegative(spec.get(key), f"{path}.{key}"))
    if spec.get("maxFailedIndexes") is not None and spec.get("backoffLimitPerIndex") is None:
        causes.append(
            required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified")
        )
    return causes


def _validate_mode(spec: Obj, path: str) -> list[Cause]:
    mode = spec.get("completionMode")
    causes: list[Cause] = []
    if mode is not None and mode not in batch.COMPLETION_MODES:
        causes.append(not_supported(f"{path}.completionMode", mode, batch.COMPLETION_MODES))
    if mode == batch.INDEXED:
        completions, parallelism = spec.get("completions"), spec.get("parallelism")
        failed = spec.get("maxFailedIndexes")
        if completions is None:
            causes.append(required(f"{path}.completions", "when completion mode is Indexed"))
        if parallelism is not None and parallelism > MAX_PARALLELISM_INDEXED:
            causes.append(
                invalid(
                    f"{path}.parallelism",
                    parallelism,
                    f"must be less than or equal to {MAX_PARALLELISM_INDEXED} "
                    "when completion mode is Indexed",
                )
            )
        if completions is not None and failed is not None and failed > completions:
            causes.append(
                invalid(
                    f"{path}.maxFailedIndexes", failed, "must be less than or equal to completions"
                )
            )
    elif mode in (None, batch.NON_INDEXED):
        for key in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(key) is not None:
                causes.append(
                    invalid(f"{path}.{key}", spec[key], "requires indexed completion mode")
                )
    return causes


def _validate_exit_codes(req: Obj, path: str, containers: set[str]) -> list[Cause]:
    operator = req.get("operator")
    causes: list[Cause] = []
    if not operator:
        causes.append(required(f"{path}.operator", 'valid values: ["In" "NotIn"]'))
    elif operator not in batch.EXIT_CODE_OPERATORS:
        causes.append(not_supported(f"{path}.operator", operator, batch.EXIT_CODE_OPERATORS))
    name = req.get("containerName")
    if name is not None and name not in containers:
        causes.append(
            invalid(
                f"{path}.containerName",
                name,
                "must be one of the container or initContainer names in the pod template",
            )
        )
    values = _list(req.get("values"))
    if not values:
        causes.append(invalid(f"{path}.values", values, "at least one value is required"))
    elif len(values) > MAX_EXIT_CODE_VALUES:
        causes.append(too_many(f"{path}.values", len(values), MAX_EXIT_CODE_VALUES))
    seen: set[int] = set()
    for j, value in enumerate(values):
        if operator == "In" and value == 0:
            causes.append(
                invalid(f"{path}.values[{j}]", value, "must not be 0 for the In operator")
            )
        if value in seen:
            causes.append(duplicate(f"{path}.values[{j}]", value))
        seen.add(value)
    if any(a > b for a, b in itertools.pairwise(values)):
        causes.append(invalid(f"{path}.values", values, "must be ordered"))
    return causes


def _validate_conditions(patterns: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    if len(patterns) > MAX_CONDITION_PATTERNS:
        causes.append(too_many(path, len(patterns), MAX_CONDITION_PATTERNS))
    for j, pattern in enumerate(patterns):
        pattern = _dict(pattern)
        kind = str(pattern.get("type") or "")
        causes.extend(invalid(f"{path}[{j}].type", kind, m) for m in names.is_qualified_name(kind))
        status = pattern.get("status")
        if not status:
            causes.append(
                required(f"{path}[{j}].status", 'valid values: ["False" "True" "Unknown"]')
            )
        elif status not in CONDITION_STATUSES:
            causes.append(not_supported(f"{path}[{j}].status", status, CONDITION_STATUSES))
    return causes


def _validate_rule(spec: Obj, rule: Obj, path: str, containers: set[str]) -> list[Cause]:
    action = rule.get("action")
    causes: list[Cause] = []
    if not action:
        causes.append(
            required(f"{path}.action", 'valid values: ["Count" "FailIndex" "FailJob" "Ignore"]')
        )
    elif action == batch.FAIL_INDEX:
        if spec.get("backoffLimitPerIndex") is None:
            causes.append(
                invalid(f"{path}.action", action, "requires the backoffLimitPerIndex to be set")
            )
    elif action not in batch.POD_FAILURE_ACTIONS:
        causes.append(not_supported(f"{path}.action", action, batch.POD_FAILURE_ACTIONS))
    codes, conditions = rule.get("onExitCodes"), _list(rule.get("onPodConditions"))
    if codes is not None:
        causes.extend(_validate_exit_codes(_dict(codes), f"{path}.onExitCodes", containers))
    if conditions:
        causes.extend(_validate_conditions(conditions, f"{path}.onPodConditions"))
    if codes is not None and conditions:
        causes.append(
            _omit(path, "specifying both OnExitCodes and OnPodConditions is not supported")
        )
    if codes is None and not conditions:
        causes.append(_omit(path, "specifying one of OnExitCodes and OnPodConditions is required"))
    return causes


def _validate_failure_policy(spec: Obj, path: str) -> list[Cause]:
    policy = spec.get("podFailurePolicy")
    causes: list[Cause] = []
    if policy is not None:
        rules = _list(_dict(policy).get("rules"))
        if len(rules) > MAX_RULES:
            causes.append(too_many(f"{path}.podFailurePolicy.rules", len(rules), MAX_RULES))
        pod = _dict(_dict(spec.get("template")).get("spec"))
        containers = {
            str(_dict(c).get("name"))
            for c in _list(pod.get("containers")) + _list(pod.get("initContainers"))
        }
        for i, rule in enumerate(rules):
            rpath = f"{path}.podFailurePolicy.rules[{i}]"
            causes.extend(_validate_rule(spec, _dict(rule), rpath, containers))
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        allowed = (batch.FAILED,) if policy is not None else REPLACEMENT_POLICIES
        if replacement not in allowed:
            causes.append(not_supported(f"{path}.podReplacementPolicy", replacement, allowed))
    return causes


def _validate_restart_policy(spec: Obj, path: str) -> list[Cause]:
    policy = _dict(_dict(spec.get("template")).get("spec")).get("restartPolicy")
    rpath = f"{path}.template.spec.restartPolicy"
    if policy in ("Always", "", None):
        return [required(rpath, 'valid values: "OnFailure", "Never"')]
    if policy not in RESTART_POLICIES:
        return [not_supported(rpath, policy, RESTART_POLICIES)]
    if spec.get("podFailurePolicy") is not None and policy != "Never":
        return [
            invalid(rpath, policy, 'only "Never" is supported when podFailurePolicy is specified')
        ]
    return []


def validate_job_spec_fields(spec: Any, path: str = "spec") -> list[Cause]:
    """validateJobSpec: everything but the selector (a CronJob's job template has none)."""
    spec = _dict(spec)
    causes = _validate_counts(spec, path)
    causes.extend(_validate_mode(spec, path))
    causes.extend(_validate_failure_policy(spec, path))
    if spec.get("successPolicy") is not None and spec.get("completionMode") != batch.INDEXED:
        causes.append(
            invalid(
                f"{path}.successPolicy", spec["successPolicy"], "requires indexed completion mode"
            )
        )
    causes.extend(_validate_template(spec.get("template"), f"{path}.template"))
    causes.extend(_validate_restart_policy(spec, path))
    return causes


def validate_job_spec(spec: Any, path: str = "spec") -> list[Cause]:
    """ValidateJobSpec: the fields, a selector, and a template its selector matches."""
    spec = _dict(spec)
    causes = validate_job_spec_fields(spec, path)
    if spec.get("selector") is None:
        return [*causes, required(f"{path}.selector")]
    causes.extend(label_selector_causes(spec.get("selector"), f"{path}.selector"))
    try:
        selector = selector_from_object(spec.get("selector"), f"{path}.selector")
    except errors.BadRequestError:
        return causes
    labels = _dict(_dict(_dict(spec.get("template")).get("metadata")).get("labels"))
    if not selector.matches(labels):
        causes.append(
            invalid(
                f"{path}.template.metadata.labels",
                dict(labels),
                "`selector` does not match template `labels`",
            )
        )
    return causes


def _defaulted(obj: Obj) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    batch.default_job(out)
    return out


def validate_job(obj: Obj) -> list[Cause]:
    """ValidateJob (create)."""
    m = _dict(obj.get("metadata"))
    causes = validate_object_meta(m, True, names.name_is_dns_subdomain)
    causes.extend(validate_generated_selector(obj))
    causes.extend(validate_job_spec(obj.get("spec")))
    spec = _dict(obj.get("spec"))
    completions = spec.get("completions")
    indexed = spec.get("completionMode") == batch.INDEXED
    if indexed and isinstance(completions, int) and completions > 0:
        # The controller names each pod's hostname <job>-<index>.
        hostname = f"{m.get('name') or ''}-{completions - 1}"
        if names.name_is_dns_label(hostname):
            detail = f"will not able to create pod with invalid DNS label: {hostname}"
            causes.append(invalid("metadata.name", m.get("name"), detail))
    return causes


_IMMUTABLE = (
    "completions",
    "selector",
    "template",
    "completionMode",
    "podFailurePolicy",
    "backoffLimitPerIndex",
    "managedBy",
    "successPolicy",
)


def validate_job_update(obj: Obj, old: Obj) -> list[Cause]:
    """ValidateJobUpdate: metadata, the spec, and the fields that may not change (the pod
    template among them)."""
    causes = validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    spec, old_spec = _dict(obj.get("spec")), _dict(old.get("spec"))
    causes.extend(validate_job_spec(spec))
    for key in _IMMUTABLE:
        if spec.get(key) != old_spec.get(key):
            causes.append(invalid(f"spec.{key}", spec.get(key), FIELD_IMMUTABLE))
    return causes


def _validate(obj: Obj, old: Obj | None = None) -> list[Cause]:
    obj = _defaulted(obj)
    if old is None:
        return validate_job(obj)
    return validate_job(obj) + validate_job_update(obj, _defaulted(old))


register_schema("Job", Job)
register_validator("Job", _validate)
