"""The JSON schema of apps/v1 ControllerRevision and DaemonSet as strict pydantic models named
after their Go types (k8s.io/api/apps/v1/types.go). Used only to check request bodies. Pure.
"""

from __future__ import annotations

from typing import Any

from control.validation.schema import (
    Int32,
    Int64,
    IntOrString,
    K8sModel,
    LabelSelector,
    ObjectMeta,
    TypeMeta,
)
from control.validation.schema_apps import PodTemplateSpec, WorkloadCondition


class ControllerRevision(TypeMeta):
    metadata: ObjectMeta | None = None
    # runtime.RawExtension: any JSON value, kept as it is.
    data: Any = None
    revision: Int64 | None = None


class RollingUpdateDaemonSet(K8sModel):
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DaemonSetUpdateStrategy(K8sModel):
    type: str | None = None
    rolling_update: RollingUpdateDaemonSet | None = None


class DaemonSetSpec(K8sModel):
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    update_strategy: DaemonSetUpdateStrategy | None = None
    min_ready_seconds: Int32 | None = None
    revision_history_limit: Int32 | None = None


class DaemonSetCondition(WorkloadCondition):
    pass


class DaemonSetStatus(K8sModel):
    current_number_scheduled: Int32 | None = None
    number_misscheduled: Int32 | None = None
    desired_number_scheduled: Int32 | None = None
    number_ready: Int32 | None = None
    observed_generation: Int64 | None = None
    updated_number_scheduled: Int32 | None = None
    number_available: Int32 | None = None
    number_unavailable: Int32 | None = None
    collision_count: Int32 | None = None
    conditions: list[DaemonSetCondition] | None = None


class DaemonSet(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: DaemonSetSpec | None = None
    status: DaemonSetStatus | None = None
