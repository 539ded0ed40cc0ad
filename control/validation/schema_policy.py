"""The JSON schema of policy/v1 PodDisruptionBudget as strict pydantic models named after their
Go types (k8s.io/api/policy/v1/types.go). Used only to check request bodies. Pure: no I/O.
"""

from __future__ import annotations

from control.validation.schema import (
    Int32,
    Int64,
    IntOrString,
    K8sModel,
    LabelSelector,
    ObjectMeta,
    Time,
    TypeMeta,
)
from control.validation.schema_service import Condition


class PodDisruptionBudgetSpec(K8sModel):
    min_available: IntOrString | None = None
    selector: LabelSelector | None = None
    max_unavailable: IntOrString | None = None
    unhealthy_pod_eviction_policy: str | None = None


class PodDisruptionBudgetStatus(K8sModel):
    observed_generation: Int64 | None = None
    disrupted_pods: dict[str, Time] | None = None
    disruptions_allowed: Int32 | None = None
    current_healthy: Int32 | None = None
    desired_healthy: Int32 | None = None
    expected_pods: Int32 | None = None
    conditions: list[Condition] | None = None


class PodDisruptionBudget(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: PodDisruptionBudgetSpec | None = None
    status: PodDisruptionBudgetStatus | None = None
