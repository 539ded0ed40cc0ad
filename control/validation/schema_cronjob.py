"""The JSON schema of batch/v1 CronJob, as strict pydantic models named after their Go types
(k8s.io/api/batch/v1/types.go); the job template is the Job's own ``JobSpec``. Used only to check
request bodies. Pure: no I/O.
"""

from __future__ import annotations

from control.validation.schema import (
    Int32,
    Int64,
    K8sModel,
    ObjectMeta,
    ObjectReference,
    Time,
    TypeMeta,
)
from control.validation.schema_batch import JobSpec


class JobTemplateSpec(K8sModel):
    metadata: ObjectMeta | None = None
    spec: JobSpec | None = None


class CronJobSpec(K8sModel):
    schedule: str | None = None
    time_zone: str | None = None
    starting_deadline_seconds: Int64 | None = None
    concurrency_policy: str | None = None
    suspend: bool | None = None
    job_template: JobTemplateSpec | None = None
    successful_jobs_history_limit: Int32 | None = None
    failed_jobs_history_limit: Int32 | None = None


class CronJobStatus(K8sModel):
    active: list[ObjectReference] | None = None
    last_schedule_time: Time | None = None
    last_successful_time: Time | None = None


class CronJob(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: CronJobSpec | None = None
    status: CronJobStatus | None = None
