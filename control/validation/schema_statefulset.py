"""The JSON schema of apps/v1 StatefulSet as strict pydantic models named after their Go types
(k8s.io/api/apps/v1/types.go). Used only to check request bodies. Pure: no I/O.
"""

from __future__ import annotations

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
from control.validation.schema_storage import PersistentVolumeClaim


class RollingUpdateStatefulSetStrategy(K8sModel):
    partition: Int32 | None = None
    max_unavailable: IntOrString | None = None


class StatefulSetUpdateStrategy(K8sModel):
    type: str | None = None
    rolling_update: RollingUpdateStatefulSetStrategy | None = None


class StatefulSetPersistentVolumeClaimRetentionPolicy(K8sModel):
    when_deleted: str | None = None
    when_scaled: str | None = None


class StatefulSetOrdinals(K8sModel):
    start: Int32 | None = None


class StatefulSetSpec(K8sModel):
    replicas: Int32 | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    volume_claim_templates: list[PersistentVolumeClaim] | None = None
    service_name: str | None = None
    pod_management_policy: str | None = None
    update_strategy: StatefulSetUpdateStrategy | None = None
    revision_history_limit: Int32 | None = None
    min_ready_seconds: Int32 | None = None
    persistent_volume_claim_retention_policy: (
        StatefulSetPersistentVolumeClaimRetentionPolicy | None
    ) = None
    ordinals: StatefulSetOrdinals | None = None


class StatefulSetCondition(WorkloadCondition):
    pass


class StatefulSetStatus(K8sModel):
    observed_generation: Int64 | None = None
    replicas: Int32 | None = None
    ready_replicas: Int32 | None = None
    current_replicas: Int32 | None = None
    updated_replicas: Int32 | None = None
    current_revision: str | None = None
    update_revision: str | None = None
    collision_count: Int32 | None = None
    conditions: list[StatefulSetCondition] | None = None
    available_replicas: Int32 | None = None


class StatefulSet(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: StatefulSetSpec | None = None
    status: StatefulSetStatus | None = None
