"""Validation of batch/v1 Job as pkg/apis/batch/validation does it (ValidateJob,
ValidateJobUpdate, ValidateJobUpdateStatus); registers the Job schema and validator with
control.validation. ``validate_job_spec_fields`` is validateJobSpec, shared with a CronJob's
job template. Objects are validated as defaulted and with their generated selector, as the API
server does both first. Pure: no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from common import batch, errors, names
from common.errors import Cause
from common.fielderrors import (
    forbidden,
    invalid,
    not_supported,
    required,
    too_long,
    validate_labels,
)
from common.labels import label_selector_causes, selector_from_object
from common.wellknown import (
    JOB_CONTROLLER_UID_LABEL,
    JOB_NAME_LABEL,
    LEGACY_JOB_CONTROLLER_UID_LABEL,
    LEGACY_JOB_NAME_LABEL,
)
from control.validation.batchpolicy import validate_failure_policy, validate_success_policy
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
RESTART_POLICIES = ("OnFailure", "Never")
MAX_MANAGED_BY = 63


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


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


def _validate_managed_by(value: Any, path: str) -> list[Cause]:
    """IsDomainPrefixedPath and at most 63 characters."""
    if value is None:
        return []
    text = str(value)
    host, slash, rest = text.partition("/")
    if not slash or not host or not rest:
        causes = [invalid(path, text, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    else:
        causes = [invalid(path, host, m) for m in names.is_dns1123_subdomain(host)]
    if len(text) > MAX_MANAGED_BY:
        causes.append(too_long(path, MAX_MANAGED_BY))
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
    return causes + _validate_managed_by(spec.get("managedBy"), f"{path}.managedBy")


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
    causes.extend(validate_failure_policy(spec, path))
    causes.extend(validate_success_policy(spec, path))
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
    "selector",
    "template",
    "completionMode",
    "podFailurePolicy",
    "backoffLimitPerIndex",
    "managedBy",
    "successPolicy",
)


def _validate_completions(spec: Obj, old_spec: Obj) -> list[Cause]:
    """validateCompletions: immutable, except on an Indexed Job (elastic Indexed Jobs) where
    it may change together with parallelism to the same value."""
    completions = spec.get("completions")
    if completions == old_spec.get("completions"):
        return []
    if spec.get("completionMode") != batch.INDEXED:
        return [invalid("spec.completions", completions, FIELD_IMMUTABLE)]
    if completions is None:  # already refused: Indexed Jobs require completions
        return []
    if completions != spec.get("parallelism"):
        detail = "can only be modified in tandem with spec.parallelism"
        return [invalid("spec.completions", completions, detail)]
    return []


def validate_job_update(obj: Obj, old: Obj) -> list[Cause]:
    """ValidateJobUpdate: metadata, the spec, and the fields that may not change (the pod
    template among them)."""
    causes = validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    spec, old_spec = _dict(obj.get("spec")), _dict(old.get("spec"))
    causes.extend(validate_job_spec(spec))
    causes.extend(_validate_completions(spec, old_spec))
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
