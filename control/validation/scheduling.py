"""Validation of scheduling.k8s.io/v1 PriorityClass (pkg/apis/scheduling/validation) with
kube-apiserver's messages: names with the ``system-`` prefix are the two system classes only,
a user class is at most 1000000000, ``value`` and ``preemptionPolicy`` never change. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import forbidden, invalid, not_supported
from control.validation.decode import register_schema
from control.validation.dispatch import register_validator
from control.validation.meta import (
    FIELD_IMMUTABLE,
    validate_object_meta,
    validate_object_meta_update,
)
from control.validation.schema import Int32, ObjectMeta, TypeMeta

Obj = Mapping[str, Any]
SYSTEM_PREFIX = "system-"
# scheduling.HighestUserDefinablePriority and the system classes' values.
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_CLASSES = {"system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}
PREEMPT_LOWER_PRIORITY, NEVER = "PreemptLowerPriority", "Never"
PREEMPTION_POLICIES = (PREEMPT_LOWER_PRIORITY, NEVER)


class PriorityClass(TypeMeta):
    metadata: ObjectMeta | None = None
    value: Int32 | None = None
    global_default: bool | None = None
    description: str | None = None
    preemption_policy: str | None = None


def _system_class_error(name: str, value: Any, global_default: Any) -> str | None:
    """IsKnownSystemPriorityClass's error, or None for a known system class."""
    if name not in SYSTEM_CLASSES:
        return f"{name} is not a known system priority class"
    if value != SYSTEM_CLASSES[name]:
        return f"value of {name} PriorityClass must be {SYSTEM_CLASSES[name]}"
    if bool(global_default):
        return f"globalDefault of {name} PriorityClass must be false"
    return None


def validate_priority_class(pc: Obj, old: Obj | None = None) -> list[Cause]:
    if old is not None:
        return _update(pc, old)
    causes = validate_object_meta(pc.get("metadata"), False, names.name_is_dns_subdomain)
    name = str((pc.get("metadata") or {}).get("name") or "")
    value = pc.get("value", 0)
    if name.startswith(SYSTEM_PREFIX):
        error = _system_class_error(name, value, pc.get("globalDefault"))
        if error is not None:
            reserved = "priority class names with 'system-' prefix are reserved for system use only"
            causes.append(forbidden("metadata.name", f"{reserved}. error: {error}"))
    elif isinstance(value, int) and value > HIGHEST_USER_DEFINABLE_PRIORITY:
        causes.append(forbidden("value", "maximum allowed value of a user defined priority is "
                                f"{HIGHEST_USER_DEFINABLE_PRIORITY}"))  # fmt: skip
    policy = pc.get("preemptionPolicy")
    if policy is not None and policy not in PREEMPTION_POLICIES:
        causes.append(not_supported("preemptionPolicy", policy, PREEMPTION_POLICIES))
    return causes


def _update(pc: Obj, old: Obj) -> list[Cause]:
    causes = validate_object_meta_update(pc.get("metadata"), old.get("metadata"))
    if pc.get("value", 0) != old.get("value", 0):
        causes.append(forbidden("value", "may not be changed in an update."))
    if pc.get("preemptionPolicy") != old.get("preemptionPolicy"):
        causes.append(invalid("preemptionPolicy", pc.get("preemptionPolicy"), FIELD_IMMUTABLE))
    return causes


register_schema("PriorityClass", PriorityClass)
register_validator("PriorityClass", validate_priority_class)
