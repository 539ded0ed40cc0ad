"""The JSON schema of apps/v1 Deployment and ReplicaSet, and of the autoscaling/v1 Scale that
their ``scale`` subresource speaks, as strict pydantic models named after their Go types (see
k8s.io/api/apps/v1/types.go). Used only to check request bodies. Pure: no I/O.
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
from control.validation.schema_pod import PodSpec


class PodTemplateSpec(K8sModel):
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None


class RollingUpdateDeployment(K8sModel):
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DeploymentStrategy(K8sModel):
    type: str | None = None
    rolling_update: RollingUpdateDeployment | None = None


class DeploymentSpec(K8sModel):
    replicas: Int32 | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    strategy: DeploymentStrategy | None = None
    min_ready_seconds: Int32 | None = None
    revision_history_limit: Int32 | None = None
    paused: bool | None = None
    progress_deadline_seconds: Int32 | None = None


class DeploymentCondition(K8sModel):
    type: str | None = None
    status: str | None = None
    last_update_time: Time | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class DeploymentStatus(K8sModel):
    observed_generation: Int64 | None = None
    replicas: Int32 | None = None
    updated_replicas: Int32 | None = None
    ready_replicas: Int32 | None = None
    available_replicas: Int32 | None = None
    unavailable_replicas: Int32 | None = None
    terminating_replicas: Int32 | None = None
    conditions: list[DeploymentCondition] | None = None
    collision_count: Int32 | None = None


class Deployment(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: DeploymentSpec | None = None
    status: DeploymentStatus | None = None


class ReplicaSetSpec(K8sModel):
    replicas: Int32 | None = None
    min_ready_seconds: Int32 | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None


class WorkloadCondition(K8sModel):
    """The fields of the ReplicaSet, StatefulSet and DaemonSet conditions (a Go type each)."""

    type: str | None = None
    status: str | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class ReplicaSetCondition(WorkloadCondition):
    pass


class ReplicaSetStatus(K8sModel):
    replicas: Int32 | None = None
    fully_labeled_replicas: Int32 | None = None
    ready_replicas: Int32 | None = None
    available_replicas: Int32 | None = None
    terminating_replicas: Int32 | None = None
    observed_generation: Int64 | None = None
    conditions: list[ReplicaSetCondition] | None = None


class ReplicaSet(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: ReplicaSetSpec | None = None
    status: ReplicaSetStatus | None = None


class ScaleSpec(K8sModel):
    replicas: Int32 | None = None


class ScaleStatus(K8sModel):
    replicas: Int32 | None = None
    selector: str | None = None


class Scale(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: ScaleSpec | None = None
    status: ScaleStatus | None = None
