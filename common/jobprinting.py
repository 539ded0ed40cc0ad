"""How kubectl prints a Job (printJob in pkg/printers/internalversion): its STATUS from its
conditions, COMPLETIONS as ``succeeded/completions`` and DURATION from start to completion (or
to now). Pure: ``now`` is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from common import batch
from common.humanize import human_duration
from common.meta import parse_time

Obj = Mapping[str, Any]

STATUS_DOC = "Status of the job"
COMPLETIONS_DOC = "The completion status of the job"
DURATION_DOC = "Time required to complete the job"


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def job_status(job: Obj) -> str:
    """Complete, Failed, Terminating, Suspended, FailureTarget, SuccessCriteriaMet or Running."""
    d = dict(job)
    if batch.condition_true(d, batch.COMPLETE):
        return "Complete"
    if batch.condition_true(d, batch.FAILED_CONDITION):
        return "Failed"
    if _dict(job.get("metadata")).get("deletionTimestamp"):
        return "Terminating"
    for kind in (batch.SUSPENDED, batch.FAILURE_TARGET, batch.SUCCESS_CRITERIA_MET):
        if batch.condition_true(d, kind):
            return kind
    return "Running"


def job_completions(job: Obj) -> str:
    spec, status = _dict(job.get("spec")), _dict(job.get("status"))
    succeeded = int(status.get("succeeded") or 0)
    if spec.get("completions") is not None:
        return f"{succeeded}/{int(spec['completions'])}"
    parallelism = int(spec.get("parallelism") or 0)
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def job_duration(job: Obj, now: dt.datetime) -> str:
    status = _dict(job.get("status"))
    start = parse_time(status.get("startTime"))
    if start is None:
        return ""
    end = parse_time(status.get("completionTime")) or now
    return human_duration((end - start).total_seconds())
