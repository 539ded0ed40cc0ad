"""batch/v1 Jobs: their defaults (SetDefaults_Job), the generated selector and pod labels of
kube-apiserver's job strategy, and the names of their conditions and reasons, shared by the API
server, the job controller and tkctl. Pure: objects in, objects out.
"""

from __future__ import annotations

from typing import Any

from common.defaults import default_pod
from common.wellknown import (
    JOB_CONTROLLER_UID_LABEL,
    JOB_NAME_LABEL,
    LEGACY_JOB_CONTROLLER_UID_LABEL,
    LEGACY_JOB_NAME_LABEL,
)

NON_INDEXED = "NonIndexed"
INDEXED = "Indexed"
COMPLETION_MODES = (NON_INDEXED, INDEXED)
DEFAULT_BACKOFF_LIMIT = 6
MAX_INT32 = 2**31 - 1
# podReplacementPolicy values.
FAILED = "Failed"
TERMINATING_OR_FAILED = "TerminatingOrFailed"
# podFailurePolicy actions and exit-code operators.
FAIL_JOB = "FailJob"
FAIL_INDEX = "FailIndex"
IGNORE = "Ignore"
COUNT = "Count"
POD_FAILURE_ACTIONS = (COUNT, FAIL_INDEX, FAIL_JOB, IGNORE)
EXIT_CODE_OPERATORS = ("In", "NotIn")

# Job condition types and the reasons the job controller gives them.
COMPLETE = "Complete"
FAILED_CONDITION = "Failed"
SUSPENDED = "Suspended"
FAILURE_TARGET = "FailureTarget"
SUCCESS_CRITERIA_MET = "SuccessCriteriaMet"
BACKOFF_LIMIT_EXCEEDED = "BackoffLimitExceeded"
DEADLINE_EXCEEDED = "DeadlineExceeded"
POD_FAILURE_POLICY = "PodFailurePolicy"
MAX_FAILED_INDEXES_EXCEEDED = "MaxFailedIndexesExceeded"
FAILED_INDEXES = "FailedIndexes"
COMPLETIONS_REACHED = "CompletionsReached"
SUCCESS_POLICY = "SuccessPolicy"
JOB_SUSPENDED = "JobSuspended"
JOB_RESUMED = "JobResumed"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def default_job(obj: dict[str, Any]) -> None:
    """SetDefaults_Job, in place (idempotent): completions and parallelism 1 when both are
    unset, backoffLimit 6, NonIndexed, not suspended, the pod replacement policy, the status
    of a podFailurePolicy pattern, the Job's labels from its template's, the template's pod
    defaults."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        # With a limit per index, the Job as a whole has none (MaxInt32).
        per_index = spec.get("backoffLimitPerIndex") is not None
        spec["backoffLimit"] = MAX_INT32 if per_index else DEFAULT_BACKOFF_LIMIT
    if spec.get("completionMode") is None:
        spec["completionMode"] = NON_INDEXED
    if spec.get("suspend") is None:
        spec["suspend"] = False
    policy = spec.get("podFailurePolicy")
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = FAILED if policy is not None else TERMINATING_OR_FAILED
    _default_failure_policy(policy)
    template = spec.get("template")
    if isinstance(template, dict):
        labels = _dict(template.get("metadata")).get("labels")
        m = obj.setdefault("metadata", {})
        if isinstance(labels, dict) and labels and isinstance(m, dict) and not m.get("labels"):
            m["labels"] = dict(labels)
        default_pod(template)


def _default_failure_policy(policy: Any) -> None:
    """A podFailurePolicy pattern with no status matches ``True`` conditions."""
    for rule in _dict(policy).get("rules") or []:
        for pattern in _dict(rule).get("onPodConditions") or []:
            if isinstance(pattern, dict) and not pattern.get("status"):
                pattern["status"] = "True"


def generate_selector(obj: dict[str, Any]) -> None:
    """kube-apiserver's generateSelector: unless ``spec.manualSelector``, the template gets the
    job-name and controller-uid labels (prefixed and legacy; a value the user set is kept, for
    validation to refuse) and the selector matches the prefixed controller-uid."""
    spec = obj.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return
    m = _dict(obj.get("metadata"))
    name, uid = str(m.get("name") or ""), str(m.get("uid") or "")
    template = spec.get("template")
    if not isinstance(template, dict):
        template = spec["template"] = {}
    tmeta = template.get("metadata")
    if not isinstance(tmeta, dict):
        tmeta = template["metadata"] = {}
    labels = tmeta.get("labels")
    if not isinstance(labels, dict):
        labels = tmeta["labels"] = {}
    for key in (LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL):
        labels.setdefault(key, name)
    for key in (LEGACY_JOB_CONTROLLER_UID_LABEL, JOB_CONTROLLER_UID_LABEL):
        labels.setdefault(key, uid)
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = spec["selector"] = {}
    match = selector.get("matchLabels")
    if not isinstance(match, dict):
        match = selector["matchLabels"] = {}
    match.setdefault(JOB_CONTROLLER_UID_LABEL, uid)


def is_indexed(job: dict[str, Any]) -> bool:
    return _dict(job.get("spec")).get("completionMode") == INDEXED


def condition_true(job: dict[str, Any], kind: str) -> bool:
    for c in _dict(job.get("status")).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == kind and c.get("status") == "True":
            return True
    return False


def is_finished(job: dict[str, Any]) -> bool:
    """Whether the Job has its terminal Complete or Failed condition (IsJobFinished)."""
    return condition_true(job, COMPLETE) or condition_true(job, FAILED_CONDITION)
