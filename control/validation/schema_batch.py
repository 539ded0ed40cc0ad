"""The JSON schema of batch/v1 Job, as strict pydantic models named after their Go types (see
k8s.io/api/batch/v1/types.go). Used only to check request bodies. Pure: no I/O.
"""

from __future__ import annotations

from control.validation.schema import (
    Int32,
    Int64,
    K8sModel,
    LabelSelector,
    ObjectMeta,
    StrList,
    Time,
    TypeMeta,
)
from control.validation.schema_apps import PodTemplateSpec


class PodFailurePolicyOnExitCodesRequirement(K8sModel):
    container_name: str | None = None
    operator: str | None = None
    values: list[Int32] | None = None


class PodFailurePolicyOnPodConditionsPattern(K8sModel):
    type: str | None = None
    status: str | None = None


class PodFailurePolicyRule(K8sModel):
    action: str | None = None
    on_exit_codes: PodFailurePolicyOnExitCodesRequirement | None = None
    on_pod_conditions: list[PodFailurePolicyOnPodConditionsPattern] | None = None


class PodFailurePolicy(K8sModel):
    rules: list[PodFailurePolicyRule] | None = None


class SuccessPolicyRule(K8sModel):
    succeeded_indexes: str | None = None
    succeeded_count: Int32 | None = None


class SuccessPolicy(K8sModel):
    rules: list[SuccessPolicyRule] | None = None


class JobSpec(K8sModel):
    parallelism: Int32 | None = None
    completions: Int32 | None = None
    active_deadline_seconds: Int64 | None = None
    pod_failure_policy: PodFailurePolicy | None = None
    success_policy: SuccessPolicy | None = None
    backoff_limit: Int32 | None = None
    backoff_limit_per_index: Int32 | None = None
    max_failed_indexes: Int32 | None = None
    selector: LabelSelector | None = None
    manual_selector: bool | None = None
    template: PodTemplateSpec | None = None
    ttl_seconds_after_finished: Int32 | None = None
    completion_mode: str | None = None
    suspend: bool | None = None
    pod_replacement_policy: str | None = None
    managed_by: str | None = None


class JobCondition(K8sModel):
    type: str | None = None
    status: str | None = None
    last_probe_time: Time | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class UncountedTerminatedPods(K8sModel):
    succeeded: StrList | None = None
    failed: StrList | None = None


class JobStatus(K8sModel):
    conditions: list[JobCondition] | None = None
    start_time: Time | None = None
    completion_time: Time | None = None
    active: Int32 | None = None
    succeeded: Int32 | None = None
    failed: Int32 | None = None
    terminating: Int32 | None = None
    completed_indexes: str | None = None
    failed_indexes: str | None = None
    uncounted_terminated_pods: UncountedTerminatedPods | None = None
    ready: Int32 | None = None


class Job(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: JobSpec | None = None
    status: JobStatus | None = None
