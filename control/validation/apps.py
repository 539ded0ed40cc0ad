"""Validation of apps/v1 Deployment and ReplicaSet and of the autoscaling/v1 Scale, as
pkg/apis/apps/validation does it; registers their schemas and validators with control.validation.

Objects are validated as defaulted (``common.workloads``), as the API server defaults first.
Pure: no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import forbidden, invalid, not_supported, required, validate_labels
from common.labels import LabelSelector
from common.workloads import RECREATE, ROLLING_UPDATE, default_workload, is_percent
from control.validation.decode import register_schema
from control.validation.dispatch import register_validator
from control.validation.intorpercent import int_or_percent_value, positive_int_or_percent
from control.validation.meta import validate_annotations, validate_nonnegative
from control.validation.pod import validate_pod_spec
from control.validation.schema_apps import Deployment, ReplicaSet, Scale
from control.validation.workload import as_dict as _dict
from control.validation.workload import (
    parsed_selector,
    validate_selector,
    validate_workload,
)

Obj = Mapping[str, Any]


def _intstr_shown(value: Any) -> str:
    """An IntOrString is a fmt.Stringer, so Kubernetes prints it quoted: ``"25%"``, ``"0"``."""
    return str(value)


def validate_template(
    template: Any, selector: LabelSelector, path: str, kind: str = "ReplicaSet"
) -> list[Cause]:
    """ValidatePodTemplateSpecForReplicaSet: labels match the selector, a valid pod spec that
    restarts Always and has no deadline (``kind`` names the workload in that message)."""
    template = _dict(template)
    tmeta = _dict(template.get("metadata"))
    labels = tmeta.get("labels")
    causes: list[Cause] = []
    if not selector.empty and not selector.matches(labels or {}):
        causes.append(
            invalid(
                f"{path}.metadata.labels", labels, "`selector` does not match template `labels`"
            )
        )
    # Kubernetes names these two without "metadata" (fldPath.Child("labels")).
    causes.extend(validate_labels(_dict(labels), f"{path}.labels"))
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
    policy = spec.get("restartPolicy")
    if policy != "Always":
        causes.append(not_supported(f"{path}.spec.restartPolicy", policy, ("Always",)))
    if spec.get("activeDeadlineSeconds") is not None:
        causes.append(
            forbidden(
                f"{path}.spec.activeDeadlineSeconds",
                f"activeDeadlineSeconds in {kind} is not Supported",
            )
        )
    return causes


def _validate_selector_and_template(spec: Obj, path: str) -> list[Cause]:
    causes = validate_selector(spec, path, "deployment")
    selector, bad = parsed_selector(spec, path)
    if selector is None:
        return causes + bad
    return causes + validate_template(spec.get("template"), selector, f"{path}.template")


def validate_strategy(strategy: Any, path: str) -> list[Cause]:
    """ValidateDeploymentStrategy."""
    strategy = _dict(strategy)
    kind = strategy.get("type")
    rolling = strategy.get("rollingUpdate")
    if kind == RECREATE:
        if rolling is not None:
            return [
                forbidden(
                    f"{path}.rollingUpdate",
                    f"may not be specified when strategy `type` is '{RECREATE}'",
                )
            ]
        return []
    if kind != ROLLING_UPDATE:
        return [not_supported(f"{path}.type", kind, (RECREATE, ROLLING_UPDATE))]
    if rolling is None:
        return [required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
    rolling = _dict(rolling)
    rpath = f"{path}.rollingUpdate"
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    causes = positive_int_or_percent(unavailable, f"{rpath}.maxUnavailable")
    causes.extend(positive_int_or_percent(surge, f"{rpath}.maxSurge"))
    if int_or_percent_value(unavailable) == 0 and int_or_percent_value(surge) == 0:
        causes.append(
            invalid(
                f"{rpath}.maxUnavailable",
                _intstr_shown(unavailable),
                "may not be 0 when `maxSurge` is 0",
            )
        )
    if is_percent(unavailable) and int_or_percent_value(unavailable) > 100:
        causes.append(
            invalid(f"{rpath}.maxUnavailable", unavailable, "must not be greater than 100%")
        )
    return causes


def validate_replicaset_spec(spec: Any, path: str = "spec") -> list[Cause]:
    spec = _dict(spec)
    causes = validate_nonnegative(spec.get("replicas"), f"{path}.replicas")
    causes.extend(validate_nonnegative(spec.get("minReadySeconds"), f"{path}.minReadySeconds"))
    causes.extend(_validate_selector_and_template(spec, path))
    return causes


def validate_deployment_spec(spec: Any, path: str = "spec") -> list[Cause]:
    """ValidateDeploymentSpec, in Kubernetes' order."""
    spec = _dict(spec)
    causes = validate_nonnegative(spec.get("replicas"), f"{path}.replicas")
    causes.extend(_validate_selector_and_template(spec, path))
    causes.extend(validate_strategy(spec.get("strategy"), f"{path}.strategy"))
    min_ready = spec.get("minReadySeconds") or 0
    causes.extend(validate_nonnegative(min_ready, f"{path}.minReadySeconds"))
    limit = spec.get("revisionHistoryLimit")
    causes.extend(validate_nonnegative(limit, f"{path}.revisionHistoryLimit"))
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        causes.extend(validate_nonnegative(deadline, f"{path}.progressDeadlineSeconds"))
        if deadline <= min_ready:
            causes.append(
                invalid(
                    f"{path}.progressDeadlineSeconds",
                    deadline,
                    "must be greater than minReadySeconds",
                )
            )
    return causes


def _defaulted(obj: Obj, kind: str) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    default_workload(kind, out)
    return out


def validate_deployment(obj: Obj, old: Obj | None = None) -> list[Cause]:
    return validate_workload(_defaulted(obj, "Deployment"), old, validate_deployment_spec)


def validate_replicaset(obj: Obj, old: Obj | None = None) -> list[Cause]:
    return validate_workload(_defaulted(obj, "ReplicaSet"), old, validate_replicaset_spec)


def validate_scale(obj: Obj, old: Obj | None = None) -> list[Cause]:
    """ValidateScale: the name and a non-negative ``spec.replicas``."""
    causes: list[Cause] = []
    m = _dict(obj.get("metadata"))
    if m.get("name") is not None:
        causes.extend(
            invalid("metadata.name", m["name"], msg)
            for msg in names.name_is_dns_subdomain(str(m["name"]), False)
        )
    causes.extend(validate_nonnegative(_dict(obj.get("spec")).get("replicas"), "spec.replicas"))
    return causes


register_schema("Deployment", Deployment)
register_schema("ReplicaSet", ReplicaSet)
register_schema("Scale", Scale)
register_validator("Deployment", validate_deployment)
register_validator("ReplicaSet", validate_replicaset)
register_validator("Scale", validate_scale, group="autoscaling")
