"""apps/v1 StatefulSet: its defaults (SetDefaults_StatefulSet, MaxUnavailableStatefulSet on:
``maxUnavailable`` 1) and the names of its policies and strategies, shared by validation, the
controller and tkctl. Pure: objects in, objects out.
"""

from __future__ import annotations

from typing import Any

from common.defaults import default_pod

ORDERED_READY = "OrderedReady"
PARALLEL = "Parallel"
ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"
RETAIN = "Retain"
DELETE = "Delete"
POD_MANAGEMENT_POLICIES = (ORDERED_READY, PARALLEL)
UPDATE_STRATEGIES = (ROLLING_UPDATE, ON_DELETE)
RETENTION_POLICIES = (RETAIN, DELETE)
# Kubernetes' apps/v1 default (pkg/apis/apps/v1/defaults.go).
DEFAULT_REVISION_HISTORY_LIMIT = 10


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _default_update_strategy(spec: dict[str, Any]) -> None:
    strategy = spec.get("updateStrategy")
    if not isinstance(strategy, dict):
        strategy = spec["updateStrategy"] = {}
    if not strategy.get("type"):
        strategy["type"] = ROLLING_UPDATE
        if strategy.get("rollingUpdate") is None:
            strategy["rollingUpdate"] = {}
    rolling = strategy.get("rollingUpdate")
    if strategy["type"] == ROLLING_UPDATE and isinstance(rolling, dict):
        for key, default in (("partition", 0), ("maxUnavailable", 1)):
            if rolling.get(key) is None:
                rolling[key] = default


def _default_claim_template(claim: Any) -> None:
    """A claim template gets the PersistentVolumeClaim defaults (SetDefaults_PersistentVolumeClaim
    on the nested objects)."""
    if not isinstance(claim, dict):
        return
    spec = claim.get("spec")
    if isinstance(spec, dict):
        spec.setdefault("volumeMode", "Filesystem")
    status = claim.get("status")
    if status is None:
        status = claim["status"] = {}
    if isinstance(status, dict) and not status.get("phase"):
        status["phase"] = "Pending"


def default_statefulset(obj: dict[str, Any]) -> None:
    """SetDefaults_StatefulSet, in place (idempotent)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = ORDERED_READY
    _default_update_strategy(spec)
    policy = spec.get("persistentVolumeClaimRetentionPolicy")
    if not isinstance(policy, dict):
        policy = spec["persistentVolumeClaimRetentionPolicy"] = {}
    for key in ("whenDeleted", "whenScaled"):
        if not policy.get(key):
            policy[key] = RETAIN
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = DEFAULT_REVISION_HISTORY_LIMIT
    template = spec.get("template")
    if isinstance(template, dict):
        default_pod(template)
    for claim in spec.get("volumeClaimTemplates") or []:
        _default_claim_template(claim)


def start_ordinal(obj: Any) -> int:
    """``spec.ordinals.start`` (0 without it)."""
    ordinals = _dict(_dict(_dict(obj).get("spec")).get("ordinals"))
    start = ordinals.get("start")
    return start if isinstance(start, int) and not isinstance(start, bool) else 0


def retention_policy(obj: Any) -> tuple[str, str]:
    """(whenDeleted, whenScaled) of ``persistentVolumeClaimRetentionPolicy``, Retain if unset."""
    policy = _dict(_dict(_dict(obj).get("spec")).get("persistentVolumeClaimRetentionPolicy"))
    return str(policy.get("whenDeleted") or RETAIN), str(policy.get("whenScaled") or RETAIN)
