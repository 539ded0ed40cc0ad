"""Validation of policy/v1 PodDisruptionBudget as pkg/apis/policy/validation does it
(ValidatePodDisruptionBudget and its status update), with kube-apiserver's messages; registers
its schema and validator with control.validation. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import invalid, not_supported
from common.labels import label_selector_causes
from common.wellknown import ALWAYS_ALLOW, IF_HEALTHY_BUDGET
from common.workloads import int_or_percent, percent_errors
from control.validation.decode import register_schema
from control.validation.dispatch import register_validator
from control.validation.meta import (
    validate_nonnegative,
    validate_object_meta,
    validate_object_meta_update,
)
from control.validation.schema_policy import PodDisruptionBudget

Obj = Mapping[str, Any]
UNHEALTHY_POD_EVICTION_POLICIES = (ALWAYS_ALLOW, IF_HEALTHY_BUDGET)
BOTH_SET = "minAvailable and maxUnavailable cannot be both set"
OVER_100 = "must not be greater than 100%"
STATUS_COUNTS = ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods")


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _positive_int_or_percent(value: Any, path: str) -> list[Cause]:
    """ValidatePositiveIntOrPercent and IsNotMoreThan100Percent."""
    if isinstance(value, str):
        causes = [invalid(path, value, m) for m in percent_errors(value)]
        if not causes and int_or_percent(value)[0] > 100:
            causes.append(invalid(path, value, OVER_100))
        return causes
    return validate_nonnegative(value, path)


def validate_pdb_spec(spec: Obj, path: str = "spec") -> list[Cause]:
    """ValidatePodDisruptionBudgetSpec."""
    causes: list[Cause] = []
    low, high = spec.get("minAvailable"), spec.get("maxUnavailable")
    if low is not None and high is not None:
        causes.append(invalid(path, dict(spec), BOTH_SET))
    if low is not None:
        causes.extend(_positive_int_or_percent(low, f"{path}.minAvailable"))
    if high is not None:
        causes.extend(_positive_int_or_percent(high, f"{path}.maxUnavailable"))
    causes.extend(label_selector_causes(spec.get("selector"), f"{path}.selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in UNHEALTHY_POD_EVICTION_POLICIES:
        causes.append(
            not_supported(
                f"{path}.unhealthyPodEvictionPolicy", policy, UNHEALTHY_POD_EVICTION_POLICIES
            )
        )
    return causes


def validate_pdb_status(status: Obj, path: str = "status") -> list[Cause]:
    """ValidatePodDisruptionBudgetStatusUpdate (policy/v1): the counts are never negative."""
    causes: list[Cause] = []
    for key in STATUS_COUNTS:
        causes.extend(validate_nonnegative(status.get(key), f"{path}.{key}"))
    return causes


def validate_pdb(obj: Obj, old: Obj | None = None) -> list[Cause]:
    """ValidatePodDisruptionBudget; the spec may change after creation (since Kubernetes 1.15)."""
    if old is None:
        causes = validate_object_meta(obj.get("metadata"), True, names.name_is_dns_subdomain)
    else:
        causes = validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    return causes + validate_pdb_spec(_dict(obj.get("spec")))


register_schema("PodDisruptionBudget", PodDisruptionBudget)
register_validator("PodDisruptionBudget", validate_pdb)
