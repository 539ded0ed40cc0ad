"""apps/v1 workloads (Deployment, ReplicaSet, DaemonSet): their defaults and the small
arithmetic Kubernetes shares between validation and the controllers (int-or-percent values,
rolling-update fenceposts, the annotation and label names). Pure: objects in, objects out.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from common.defaults import default_pod
from common.names import regex_error

ROLLING_UPDATE = "RollingUpdate"
RECREATE = "Recreate"
# Kubernetes' apps/v1 defaults (pkg/apis/apps/v1/defaults.go).
DEFAULT_SURGE = "25%"
DEFAULT_UNAVAILABLE = "25%"
DEFAULT_REVISION_HISTORY_LIMIT = 10
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
# Kubernetes treats MaxInt32 as "no limit" for revisionHistoryLimit and progressDeadlineSeconds.
MAX_INT32 = 2**31 - 1

_PERCENT = re.compile(r"[0-9]+%")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def default_template(template: Any) -> None:
    """A pod template gets the pod defaults (restartPolicy, dnsPolicy, pull policy, ...)."""
    if isinstance(template, dict):
        default_pod(template)


def default_deployment(obj: dict[str, Any]) -> None:
    """SetDefaults_Deployment, in place (idempotent)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _default_rolling(spec, "strategy", DEFAULT_UNAVAILABLE, DEFAULT_SURGE)
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = DEFAULT_REVISION_HISTORY_LIMIT
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = DEFAULT_PROGRESS_DEADLINE_SECONDS
    default_template(spec.get("template"))


def default_replicaset(obj: dict[str, Any]) -> None:
    """SetDefaults_ReplicaSet, in place (idempotent)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    default_template(spec.get("template"))


ON_DELETE = "OnDelete"
# SetDefaults_DaemonSet: one node at a time, no surge.
DEFAULT_DAEMONSET_UNAVAILABLE = 1
DEFAULT_DAEMONSET_SURGE = 0


def _default_rolling(spec: dict[str, Any], key: str, unavailable: Any, surge: Any) -> None:
    """A Deployment's ``strategy`` or a DaemonSet's ``updateStrategy``: RollingUpdate unless
    set, with its maxUnavailable and maxSurge defaults."""
    strategy = spec.get(key)
    if not isinstance(strategy, dict):
        strategy = spec[key] = {}
    if not strategy.get("type"):
        strategy["type"] = ROLLING_UPDATE
    if strategy["type"] == ROLLING_UPDATE:
        rolling = strategy.get("rollingUpdate")
        if not isinstance(rolling, dict):
            rolling = strategy["rollingUpdate"] = {}
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = unavailable
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = surge


def default_daemonset(obj: dict[str, Any]) -> None:
    """SetDefaults_DaemonSet, in place (idempotent)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    _default_rolling(spec, "updateStrategy", DEFAULT_DAEMONSET_UNAVAILABLE, DEFAULT_DAEMONSET_SURGE)
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = DEFAULT_REVISION_HISTORY_LIMIT
    default_template(spec.get("template"))


def daemonset_revision_data(ds: Mapping[str, Any]) -> dict[str, Any]:
    """A DaemonSet's pod template as the strategic merge patch that restores it: the ``data`` of
    its ControllerRevisions (the daemon controller's getPatch), which ``rollout undo`` applies."""
    template = copy.deepcopy(dict(_dict(_dict(ds.get("spec")).get("template"))))
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


DEFAULTERS = {
    "Deployment": default_deployment,
    "ReplicaSet": default_replicaset,
    "DaemonSet": default_daemonset,
}


def default_workload(kind: str, obj: dict[str, Any]) -> None:
    defaulter = DEFAULTERS.get(kind)
    if defaulter is not None:
        defaulter(obj)


# -- int-or-percent ------------------------------------------------------------------------------


def is_percent(value: Any) -> bool:
    return isinstance(value, str) and value.endswith("%")


def percent_errors(value: str) -> list[str]:
    """IsValidPercent's message for a string that is not ``<digits>%``."""
    if _PERCENT.fullmatch(value):
        return []
    msg = "a valid percent string must be a numeric string followed by an ending '%'"
    return [regex_error(msg, _PERCENT.pattern, "1%", "93%")]


def int_or_percent(value: Any) -> tuple[int, bool]:
    """(number, is it a percentage); raises ValueError for a string that is not ``N%``."""
    if isinstance(value, bool):
        raise ValueError(f"invalid value {value!r}")
    if isinstance(value, int):
        return value, False
    if isinstance(value, str) and value.endswith("%"):
        return int(value[:-1]), True
    raise ValueError("invalid type: string is not a percentage")


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """GetScaledValueFromIntOrPercent: an int as is, ``N%`` of ``total`` rounded up or down."""
    number, percent = int_or_percent(value)
    if not percent:
        return number
    if round_up:
        return -(-number * total // 100)
    return number * total // 100


def resolve_fenceposts(max_surge: Any, max_unavailable: Any, desired: int) -> tuple[int, int]:
    """ResolveFenceposts: (surge, unavailable) for ``desired`` replicas; never both 0."""
    surge = scaled_value(0 if max_surge is None else max_surge, desired, True)
    unavailable = scaled_value(0 if max_unavailable is None else max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        # Rounding down may make both 0; then allow one unavailable rather than stall.
        unavailable = 1
    return surge, unavailable


def replicas_of(obj: Mapping[str, Any]) -> int:
    """``spec.replicas`` (defaulted objects always have it; 1 otherwise, as the default)."""
    value = _dict(obj.get("spec")).get("replicas")
    return 1 if value is None else int(value)


def is_rolling(deployment: Mapping[str, Any]) -> bool:
    strategy = _dict(_dict(deployment.get("spec")).get("strategy"))
    return bool(strategy.get("type", ROLLING_UPDATE) == ROLLING_UPDATE)


def max_surge(deployment: Mapping[str, Any]) -> int:
    """MaxSurge: the extra pods a rolling update may create (0 for Recreate)."""
    if not is_rolling(deployment):
        return 0
    rolling = _dict(_dict(_dict(deployment.get("spec")).get("strategy")).get("rollingUpdate"))
    surge, _ = resolve_fenceposts(
        rolling.get("maxSurge"), rolling.get("maxUnavailable"), replicas_of(deployment)
    )
    return surge


def max_unavailable(deployment: Mapping[str, Any]) -> int:
    """MaxUnavailable: the pods a rolling update may take down (0 for Recreate or 0 replicas)."""
    replicas = replicas_of(deployment)
    if not is_rolling(deployment) or replicas == 0:
        return 0
    rolling = _dict(_dict(_dict(deployment.get("spec")).get("strategy")).get("rollingUpdate"))
    _, unavailable = resolve_fenceposts(
        rolling.get("maxSurge"), rolling.get("maxUnavailable"), replicas
    )
    return min(unavailable, replicas)
