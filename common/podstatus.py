"""A pod's STATUS, READY and RESTARTS as kubectl's ``printPod`` computes them
(``k/k:pkg/printers/internalversion/printers.go``). Pure: ``now`` is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from common.humanize import human_duration, parse_time

Obj = Mapping[str, Any]


def _section(obj: Obj, key: str) -> Obj:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _meta(obj: Obj) -> Obj:
    return _section(obj, "metadata")


def _container_statuses(pod: Obj, key: str = "containerStatuses") -> list[Obj]:
    return [s for s in _section(pod, "status").get(key) or [] if isinstance(s, Mapping)]


def _state(status: Obj, key: str = "state") -> tuple[str, Obj]:
    """The one set member of a ContainerState: ``("running", {...})``, or ``("", {})``."""
    state = _section(status, key)
    for kind in ("waiting", "running", "terminated"):
        if isinstance(state.get(kind), Mapping):
            return kind, state[kind]
    return "", {}


def _terminated_reason(term: Obj, prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + str(term["reason"])
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def _pod_ready_condition(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in _section(pod, "status").get("conditions") or []
    )


@dataclass
class PodSummary:
    """What the pod columns need: STATUS reason, ready/total containers, restarts."""

    reason: str
    ready: int
    total: int
    restarts: int
    last_restart: dt.datetime | None


def _later(a: dt.datetime | None, status: Obj) -> dt.datetime | None:
    kind, last = _state(status, "lastState")
    when = parse_time(last.get("finishedAt")) if kind == "terminated" else None
    return when if when is not None and (a is None or when > a) else a


def _init_reason(pod: Obj, summary: PodSummary) -> bool:
    """Walk init containers as printPod does; True while the pod is still initializing."""
    spec_inits = [c for c in _section(pod, "spec").get("initContainers") or []]
    sidecars = {c.get("name") for c in spec_inits if c.get("restartPolicy") == "Always"}
    summary.total += len(sidecars)
    statuses = _container_statuses(pod, "initContainerStatuses")
    for i, status in enumerate(statuses):
        summary.restarts += int(status.get("restartCount") or 0)
        summary.last_restart = _later(summary.last_restart, status)
        kind, state = _state(status)
        if kind == "terminated" and int(state.get("exitCode") or 0) == 0:
            continue
        if status.get("name") in sidecars and status.get("started"):
            summary.ready += 1 if status.get("ready") else 0
            continue
        if kind == "terminated":
            summary.reason = _terminated_reason(state, "Init:")
        elif kind == "waiting" and state.get("reason") and state["reason"] != "PodInitializing":
            summary.reason = f"Init:{state['reason']}"
        else:
            summary.reason = f"Init:{i}/{len(spec_inits)}"
        return True
    return False


def _init_condition_true(pod: Obj) -> bool:
    return any(
        c.get("type") == "Initialized" and c.get("status") == "True"
        for c in _section(pod, "status").get("conditions") or []
    )


def summarize(pod: Obj) -> PodSummary:
    """kubectl's ``printPod``: STATUS reason, ready/total containers, restarts and last restart."""
    status = _section(pod, "status")
    reason = str(status.get("reason") or status.get("phase") or "")
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    s = PodSummary(reason, 0, len(_section(pod, "spec").get("containers") or []), 0, None)
    initializing = _init_reason(pod, s)
    if not initializing or _init_condition_true(pod):
        _walk_containers(pod, s)
    if _meta(pod).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            s.reason = "Unknown"
        elif status.get("phase") not in ("Succeeded", "Failed"):
            s.reason = "Terminating"
    return s


def _walk_containers(pod: Obj, s: PodSummary) -> None:
    """The app containers, last to first so that the first container's reason wins."""
    sidecars = {
        c.get("name")
        for c in _section(pod, "spec").get("initContainers") or []
        if c.get("restartPolicy") == "Always"
    }
    init_statuses = [
        c for c in _container_statuses(pod, "initContainerStatuses") if c.get("name") in sidecars
    ]
    s.restarts = sum(int(c.get("restartCount") or 0) for c in init_statuses)
    s.last_restart = None
    for c in init_statuses:
        s.last_restart = _later(s.last_restart, c)
    has_running = False
    for cs in reversed(_container_statuses(pod)):
        s.restarts += int(cs.get("restartCount") or 0)
        s.last_restart = _later(s.last_restart, cs)
        kind, state = _state(cs)
        if kind == "waiting" and state.get("reason"):
            s.reason = str(state["reason"])
        elif kind == "terminated":
            s.reason = _terminated_reason(state)
        elif kind == "running" and cs.get("ready"):
            has_running = True
            s.ready += 1
    if s.reason == "Completed" and has_running:
        s.reason = "Running" if _pod_ready_condition(pod) else "NotReady"


def pod_status(pod: Obj) -> str:
    """The STATUS column: ``Running``, ``Pending``, ``ContainerCreating``, ``CrashLoopBackOff``,
    ``Completed``, ``Error``, ``Init:0/1``, ``Terminating``, ..."""
    return summarize(pod).reason


def pod_ready(pod: Obj) -> str:
    """The READY column: ready running containers / all containers (``1/2``)."""
    s = summarize(pod)
    return f"{s.ready}/{s.total}"


def pod_restarts(pod: Obj, now: dt.datetime) -> str:
    """The RESTARTS column: ``0``, or ``3 (45s ago)`` from the latest ``lastState.terminated``."""
    return restarts_cell(summarize(pod), now)


def restarts_cell(s: PodSummary, now: dt.datetime) -> str:
    """RESTARTS of an already summarized pod."""
    if s.restarts and s.last_restart is not None:
        return f"{s.restarts} ({human_duration((now - s.last_restart).total_seconds())} ago)"
    return str(s.restarts)
