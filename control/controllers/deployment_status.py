"""A Deployment's status as Kubernetes computes it (deployment/sync.go calculateStatus,
progress.go syncRolloutStatus, util/deployment_util.go): the replica counts summed over its
ReplicaSets, the Available condition, and Progressing from the progress seen since the last
status, with its deadline. Pure: dicts and a time in, a status out.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

from common import conditions, meta
from common.objects import Deployment
from common.workloads import max_unavailable, replicas_of
from control.controllers.rollout import has_progress_deadline, spec_of, status_count, total

Obj = dict[str, Any]
PROGRESSING = "Progressing"


def condition(status: Mapping[str, Any], ctype: str) -> Obj | None:
    return conditions.find(status.get("conditions"), ctype)


def new_condition(ctype: str, status: str, reason: str, message: str, now: dt.datetime) -> Obj:
    stamp = meta.timestamp(now)
    return conditions.build(ctype, status, stamp, reason, message, keep_empty=True,
                            lastUpdateTime=stamp)  # fmt: skip


def remove_condition(status: Obj, ctype: str) -> None:
    kept = conditions.without(status.get("conditions"), ctype)
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def set_condition(status: Obj, cond: Obj) -> None:
    """SetDeploymentCondition: no change for the same status and reason; the transition time
    survives a change of reason only."""
    current = condition(status, cond["type"])
    if current is not None and (current["status"], current.get("reason")) == (
        cond["status"],
        cond.get("reason"),
    ):
        return
    if current is not None and current["status"] == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    remove_condition(status, cond["type"])
    status.setdefault("conditions", []).append(cond)


def calculate_status(
    all_rss: list[Obj | None], new: Obj | None, deployment: Mapping[str, Any], now: dt.datetime
) -> Obj:
    """calculateStatus (sync.go), zero counts omitted as Kubernetes' JSON omits them."""
    available = total(all_rss, "availableReplicas")
    counts = {
        "observedGeneration": int((deployment.get("metadata") or {}).get("generation") or 0),
        "replicas": total(all_rss, "replicas"),
        "updatedReplicas": status_count(new, "replicas"),
        "readyReplicas": total(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(0, total(all_rss) - available),
    }
    status: Obj = {k: v for k, v in counts.items() if v}
    old = deployment.get("status") or {}
    if old.get("conditions"):
        status["conditions"] = copy.deepcopy(old["conditions"])
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if available >= replicas_of(deployment) - max_unavailable(deployment):
        cond = new_condition(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
        )
    else:
        cond = new_condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    set_condition(status, cond)
    return status


def complete(deployment: Deployment, status: Mapping[str, Any]) -> bool:
    """DeploymentComplete: every replica updated and available, no old one left."""
    replicas = replicas_of(deployment)
    generation = deployment.get("metadata", {}).get("generation", 0)
    return (
        int(status.get("updatedReplicas") or 0) == replicas
        and int(status.get("replicas") or 0) == replicas
        and int(status.get("availableReplicas") or 0) == replicas
        and int(status.get("observedGeneration") or 0) >= generation
    )


def progressing(deployment: Deployment, new: Mapping[str, Any]) -> bool:
    """DeploymentProgressing: more updated, ready or available pods, or fewer old ones."""
    old: Mapping[str, Any] = deployment.get("status", {})

    def get(s: Mapping[str, Any], key: str) -> int:
        return int(s.get(key) or 0)

    return (
        get(new, "updatedReplicas") > get(old, "updatedReplicas")
        or get(new, "replicas") - get(new, "updatedReplicas")
        < get(old, "replicas") - get(old, "updatedReplicas")
        or get(new, "readyReplicas") > get(old, "readyReplicas")
        or get(new, "availableReplicas") > get(old, "availableReplicas")
    )


def timed_out(deployment: Deployment, status: Mapping[str, Any], now: dt.datetime) -> bool:
    """DeploymentTimedOut: no progress reported within progressDeadlineSeconds."""
    if not has_progress_deadline(deployment):
        return False
    cond = condition(status, "Progressing")
    if cond is None or cond.get("reason") == "NewReplicaSetAvailable":
        return False
    if cond.get("reason") == "ProgressDeadlineExceeded":
        return True
    since = meta.parse_time(cond.get("lastUpdateTime"))
    deadline = deployment.get("spec", {}).get("progressDeadlineSeconds", 0)
    return since is not None and since + dt.timedelta(seconds=deadline) < now


def rollout_status(
    d: Deployment, all_rss: list[Obj | None], new: Obj | None, now: dt.datetime
) -> tuple[Obj, float | None]:
    """syncRolloutStatus: the new status and, when nothing changed, when to look again for a
    missed progress deadline (requeueStuckDeployment)."""
    current_status: Mapping[str, Any] = d.get("status", {})
    status = calculate_status(all_rss, new, d, now)
    if not has_progress_deadline(d):
        remove_condition(status, PROGRESSING)
    current = condition(current_status, PROGRESSING)
    done = (
        status.get("replicas", 0) == status.get("updatedReplicas", 0)
        and current is not None
        and current.get("reason") == "NewReplicaSetAvailable"
    )
    name = (new or {}).get("metadata", {}).get("name") or d.get("metadata", {}).get("name")
    what = f'ReplicaSet "{name}"' if new else f'Deployment "{name}"'
    if has_progress_deadline(d) and not done:
        if complete(d, status):
            cond = new_condition(
                PROGRESSING,
                "True",
                "NewReplicaSetAvailable",
                f"{what} has successfully progressed.",
                now,
            )
            set_condition(status, cond)
        elif progressing(d, status):
            cond = new_condition(
                PROGRESSING, "True", "ReplicaSetUpdated", f"{what} is progressing.", now
            )
            if current is not None and current["status"] == "True":
                cond["lastTransitionTime"] = current.get("lastTransitionTime")
            remove_condition(status, PROGRESSING)
            set_condition(status, cond)
        elif timed_out(d, status, now):
            cond = new_condition(
                PROGRESSING,
                "False",
                "ProgressDeadlineExceeded",
                f"{what} has timed out progressing.",
                now,
            )
            set_condition(status, cond)
    requeue = _stuck_requeue(d, status, now) if status == current_status else None
    return status, requeue


def _stuck_requeue(d: Deployment, status: Obj, now: dt.datetime) -> float | None:
    """requeueStuckDeployment: when to look again for a progress deadline."""
    current = condition(d.get("status", {}), PROGRESSING)
    if not has_progress_deadline(d) or current is None:
        return None
    if complete(d, status) or current.get("reason") == "ProgressDeadlineExceeded":
        return None
    since = meta.parse_time(current.get("lastUpdateTime")) or now
    deadline = d.get("spec", {}).get("progressDeadlineSeconds", 0)
    after = (since + dt.timedelta(seconds=deadline) - now).total_seconds()
    return 0.0 if after < 1 else after + 1


def paused_conditions(d: Obj, now: dt.datetime) -> None:
    """checkPausedConditions: Progressing Unknown while paused, and once resumed."""
    if not has_progress_deadline(d):
        return
    status = d.setdefault("status", {})
    cond = condition(status, PROGRESSING)
    if cond is not None and cond.get("reason") == "ProgressDeadlineExceeded":
        return
    paused = bool(spec_of(d).get("paused"))
    was_paused = cond is not None and cond.get("reason") == "DeploymentPaused"
    if paused and not was_paused:
        set_condition(
            status,
            new_condition(PROGRESSING, "Unknown", "DeploymentPaused", "Deployment is paused", now),
        )
    elif not paused and was_paused:
        set_condition(
            status,
            new_condition(
                PROGRESSING, "Unknown", "DeploymentResumed", "Deployment is resumed", now
            ),
        )
