"""Compute a pod's ``status`` from its spec, the runtime's containers and what the agent tried.

Phase by the kubelet's ``getPhase`` rule, the four conditions, IPs, QoS class and one
``containerStatuses`` entry per spec container (``ready``/``started`` from the probes; ephemeral
containers get theirs, never ready, in ``ephemeralContainerStatuses``; init containers in
``initContainerStatuses``, with ``Initialized`` and their say in the phase from ``initstatus``),
the termination messages read by the agent, and the ``docker rm -f`` interim state
(k8s_behavior.md §1, §6). Fields other writers own (PodScheduled, unknown keys) are kept. Pure:
no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent import initstatus
from agent.planner import TERMINAL_PHASES, Waiting
from agent.prober import ContainerProbes
from agent.runtime import ContainerInfo
from common import conditions, meta
from common.qos import get_pod_qos

UNKNOWN_MESSAGE = (
    "The container could not be located when the pod was deleted.  The container used to be Running"
)
# The waiting reason of a container not created yet (PodInitializing when the pod has init ones).
CREATING = "ContainerCreating"
# Conditions the agent writes, in the order the kubelet lists them.
OWN_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")


@dataclass(frozen=True)
class StatusExtra:
    """What the status cannot read from the runtime: the node IP, why containers wait, and the
    probe results."""

    host_ip: str = ""
    waiting: Mapping[str, Waiting] = field(default_factory=dict)
    # container id -> what its probes say (readiness, startup); absent: no probe results yet
    probes: Mapping[str, ContainerProbes] = field(default_factory=dict)
    # container id -> its termination message (``agent.termination``)
    messages: Mapping[str, str] = field(default_factory=dict)


def prune(value: Any) -> Any:
    """Drop ``None`` values recursively, as the API server does when it stores an object."""
    if isinstance(value, dict):
        return {k: prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def fmt_time(t: datetime | None) -> str | None:
    """RFC3339 in whole seconds, as ``metav1.Time`` serialises."""
    return None if t is None else meta.timestamp(t)


def terminated_state(c: ContainerInfo, message: str = "") -> dict[str, Any]:
    if c.oom_killed:
        reason = "OOMKilled"
    elif c.error and not c.started_at:
        reason = "ContainerCannotRun"
    else:
        reason = "Completed" if c.exit_code == 0 else "Error"
    state: dict[str, Any] = {"exitCode": c.exit_code if c.exit_code is not None else 0}
    state["reason"] = reason
    if reason == "ContainerCannotRun":
        state["message"] = c.error
    elif message:
        state["message"] = message
    state["startedAt"] = fmt_time(c.started_at)
    state["finishedAt"] = fmt_time(c.finished_at)
    state["containerID"] = f"docker://{c.id}"
    return {"terminated": state}


def image_ref(c: ContainerInfo) -> str:
    if c.repo_digest:
        return f"docker-pullable://{c.repo_digest}"
    return f"docker://{c.image_id}" if c.image_id else ""


def _waiting(w: Waiting | None, default: str = CREATING) -> dict[str, Any]:
    if w is None:
        return {"waiting": {"reason": default}}
    body = {"reason": w.reason}
    if w.message:
        body["message"] = w.message
    return {"waiting": body}


def _vanished_last_state(prev: dict[str, Any]) -> dict[str, Any]:
    """The lastState for a reported container the runtime no longer has."""
    state = prev.get("state") or {}
    if "running" in state:
        return {
            "terminated": {
                "exitCode": 137,
                "reason": "ContainerStatusUnknown",
                "message": UNKNOWN_MESSAGE,
                "startedAt": state["running"].get("startedAt"),
                "finishedAt": None,
                "containerID": prev.get("containerID"),
            }
        }
    if "terminated" in state:
        return {"terminated": state["terminated"]}
    return dict(prev.get("lastState") or {})


def container_status(
    container: dict[str, Any],
    records: list[ContainerInfo],
    prev: dict[str, Any] | None,
    waiting: Waiting | None,
    probes: Mapping[str, ContainerProbes] | None = None,
    default: str = CREATING,
    messages: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One ``containerStatuses`` entry; ``records`` are this container's, newest first.

    ``started`` is the startup probe's success (or just running without one); ``ready`` needs
    ``started`` and the readiness probe's success (or just ``started`` without one). Until a probe
    has run, the value reported for the same container stands (an agent restart changes nothing).
    """
    prev = prev or {}
    messages = messages or {}
    name = container["name"]
    status: dict[str, Any] = {"name": name, "image": container.get("image", "")}
    current = records[0] if records else None
    if current is None:
        vanished = bool(prev.get("containerID"))
        status["state"] = _waiting(waiting, default)
        status["lastState"] = _vanished_last_state(prev) if vanished else prev.get("lastState", {})
        status["ready"] = False
        status["started"] = False
        status["restartCount"] = int(prev.get("restartCount") or 0) + (1 if vanished else 0)
        status["imageID"] = ""
        return status
    cid = f"docker://{current.id}"
    if current.state == "running":
        status["state"] = {"running": {"startedAt": fmt_time(current.started_at)}}
    elif current.state == "created" or waiting is not None:
        status["state"] = _waiting(waiting, default)
    else:
        status["state"] = terminated_state(current, messages.get(current.id, ""))
    if current.state == "exited" and waiting is not None:
        status["lastState"] = terminated_state(current, messages.get(current.id, ""))
    else:
        older = [r for r in records[1:] if r.state == "exited" and r.attempt < current.attempt]
        if older:
            status["lastState"] = terminated_state(older[0], messages.get(older[0].id, ""))
        elif prev.get("containerID") and prev.get("containerID") != cid:
            status["lastState"] = _vanished_last_state(prev)
        else:
            status["lastState"] = dict(prev.get("lastState") or {})
    running = current.state == "running"
    seen = (probes or {}).get(current.id) or ContainerProbes()
    same = prev.get("containerID") == cid  # a probe not run yet keeps what was reported
    started = running and (
        not container.get("startupProbe")
        or (seen.started if seen.started is not None else same and prev.get("started") is True)
    )
    ready = started and (
        not container.get("readinessProbe")
        or (seen.ready if seen.ready is not None else same and prev.get("ready") is True)
    )
    status["ready"] = ready
    status["started"] = started
    status["restartCount"] = current.attempt
    status["imageID"] = image_ref(current)
    status["containerID"] = cid
    return status


def compute_phase(pod: dict[str, Any], statuses: list[dict[str, Any]]) -> str:
    """The kubelet's ``getPhase``; a terminal phase never changes back."""
    old = (pod.get("status") or {}).get("phase")
    if old in TERMINAL_PHASES:
        return str(old)
    restart_policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    waiting = running = stopped = succeeded = 0
    for s in statuses:
        state = s.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += 1 if state["terminated"].get("exitCode") == 0 else 0
        elif "terminated" in (s.get("lastState") or {}):
            stopped += 1
        else:
            waiting += 1
    if waiting > 0:
        return "Pending"
    if running > 0:
        return "Running"
    if stopped > 0:
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if restart_policy == "Never" else "Running"
    return "Pending"


def _condition(
    old: Mapping[str, dict[str, Any]],
    ctype: str,
    ok: bool,
    reason: str = "",
    message: str = "",
    *,
    now: datetime,
) -> dict[str, Any]:
    status = "True" if ok else "False"
    return conditions.build(ctype, status, meta.timestamp(now), reason, message,
                            previous=old.get(ctype), lastProbeTime=None)  # fmt: skip


def _conditions(
    pod: dict[str, Any],
    phase: str,
    statuses: list[dict[str, Any]],
    sandbox_ready: bool,
    now: datetime,
    init: tuple[bool, str, str] = (True, "", ""),
    unready_sidecars: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    old_list = (pod.get("status") or {}).get("conditions") or []
    old = {str(c.get("type")): c for c in old_list}
    unready = [*unready_sidecars, *(s["name"] for s in statuses if not s.get("ready"))]
    ready = not unready and phase not in TERMINAL_PHASES
    if phase in TERMINAL_PHASES:
        reason, message = "PodCompleted", ""
    else:
        reason = "" if ready else "ContainersNotReady"
        message = "" if ready else f"containers with unready status: [{' '.join(unready)}]"
    conds = [
        _condition(old, "PodReadyToStartContainers", sandbox_ready, now=now),
        _condition(old, "Initialized", *init, now=now),
        _condition(old, "Ready", ready, reason, message, now=now),
        _condition(old, "ContainersReady", ready, reason, message, now=now),
    ]
    scheduled = old.get("PodScheduled") or _condition(old, "PodScheduled", True, now=now)
    conds.append(scheduled)
    # Conditions written by others (e.g. DisruptionTarget) are theirs: keep them.
    conds.extend(c for t, c in old.items() if t not in (*OWN_CONDITIONS, "PodScheduled"))
    return conds


def compute_pod_status(
    pod: dict[str, Any], containers: list[ContainerInfo], now: datetime, extra: StatusExtra
) -> dict[str, Any]:
    """The whole new ``status`` of ``pod`` (see the module docstring)."""
    old = dict(pod.get("status") or {})
    uid = pod["metadata"]["uid"]
    mine = sorted(
        (c for c in containers if c.pod_uid == uid),
        key=lambda c: (c.attempt, c.created_at or datetime.min.replace(tzinfo=UTC)),
        reverse=True,
    )
    has_inits = bool((pod.get("spec") or {}).get("initContainers"))
    default = initstatus.POD_INITIALIZING if has_inits else CREATING
    statuses = _statuses(pod, "containers", old.get("containerStatuses"), mine, extra, default)
    inits = _statuses(pod, "initContainers", old.get("initContainerStatuses"), mine, extra,
                      default)  # fmt: skip
    initstatus.set_init_readiness(pod, inits)
    init = initstatus.initialized_condition(pod, inits, statuses)
    phase = compute_phase(pod, statuses)
    if phase not in TERMINAL_PHASES:
        phase = initstatus.init_phase(pod, inits, init[0]) or phase
    if has_inits and init[0] and phase == "Succeeded":
        init = (True, "PodCompleted", "")
    sandboxes = [c for c in mine if c.role == "sandbox" and c.state == "running"]
    sandbox = sandboxes[0] if sandboxes else None
    status = {k: v for k, v in old.items() if k not in _OWN_FIELDS}
    status["phase"] = phase
    unready_sidecars = tuple(initstatus.unready_sidecars(pod, inits))
    status["conditions"] = _conditions(pod, phase, statuses, sandbox is not None, now, init,
                                       unready_sidecars)  # fmt: skip
    if extra.host_ip:
        status["hostIP"] = extra.host_ip
        status["hostIPs"] = [{"ip": extra.host_ip}]
    pod_ip = sandbox.ip if sandbox is not None and sandbox.ip else old.get("podIP")
    if (pod.get("spec") or {}).get("hostNetwork") is True and extra.host_ip:
        pod_ip = extra.host_ip  # the node's network: the node's address, as the kubelet says
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    status["startTime"] = old.get("startTime") or fmt_time(now)
    if inits:
        status["initContainerStatuses"] = inits
    status["containerStatuses"] = statuses
    ephemeral = _statuses(pod, "ephemeralContainers", old.get("ephemeralContainerStatuses"),
                          mine, extra)  # fmt: skip
    for s in ephemeral:
        s["ready"] = False  # nothing may rely on an ephemeral container, as the kubelet says
    if ephemeral:
        status["ephemeralContainerStatuses"] = ephemeral
    status["qosClass"] = get_pod_qos(pod)
    return status


def _statuses(
    pod: dict[str, Any],
    key: str,
    old: Any,
    mine: list[ContainerInfo],
    extra: StatusExtra,
    default: str = CREATING,
) -> list[dict[str, Any]]:
    """One status per container of the spec's list ``key``; ``mine``: the pod's, newest first."""
    prev_by_name = {str(s.get("name")): s for s in old or []}
    statuses = []
    for container in (pod.get("spec") or {}).get(key) or []:
        records = [c for c in mine if c.role == "app" and c.container_name == container["name"]]
        running = [c for c in records if c.state == "running"]
        if running:  # a duplicate never hides the running one
            records = [running[0], *[c for c in records if c is not running[0]]]
        statuses.append(
            container_status(
                container,
                records,
                prev_by_name.get(container["name"]),
                extra.waiting.get(container["name"]),
                extra.probes,
                default,
                extra.messages,
            )
        )
    return statuses


_OWN_FIELDS = (
    "phase",
    "conditions",
    "hostIP",
    "hostIPs",
    "podIP",
    "podIPs",
    "startTime",
    "initContainerStatuses",
    "containerStatuses",
    "ephemeralContainerStatuses",
    "qosClass",
)
