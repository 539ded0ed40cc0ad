"""The init-container part of a pod's status: the ``Initialized`` condition
(``pkg/kubelet/status/generate.go``), what init containers do to the phase (the kubelet's
``getPhase``) and the readiness of init containers (a regular one is ready once it succeeded, a
sidecar by its probes). Reads status entries only. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NOT_INITIALIZED = "ContainersNotInitialized"
# The waiting reason of a container whose pod has init containers and that has not run yet.
POD_INITIALIZING = "PodInitializing"


def _inits(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((pod.get("spec") or {}).get("initContainers") or [])


def _is_sidecar(container: Mapping[str, Any]) -> bool:
    return container.get("restartPolicy") == "Always"


def _succeeded(status: Mapping[str, Any]) -> bool:
    term = (status.get("state") or {}).get("terminated")
    return isinstance(term, Mapping) and term.get("exitCode") == 0


def any_regular_started(statuses: list[dict[str, Any]]) -> bool:
    """A regular container has run in this pod: initialization is over for good."""
    return any(s.get("containerID") for s in statuses)


def incomplete(pod: Mapping[str, Any], init_statuses: list[dict[str, Any]]) -> list[str]:
    """Init containers not done yet: a regular one that has not succeeded, a sidecar that has
    not started."""
    by_name = {s.get("name"): s for s in init_statuses}
    out = []
    for container in _inits(pod):
        status = by_name.get(container["name"]) or {}
        done = status.get("started") is True if _is_sidecar(container) else _succeeded(status)
        if not done:
            out.append(str(container["name"]))
    return out


def initialized_condition(
    pod: Mapping[str, Any], init_statuses: list[dict[str, Any]], statuses: list[dict[str, Any]]
) -> tuple[bool, str, str]:
    """``(ok, reason, message)`` of the ``Initialized`` condition."""
    if any_regular_started(statuses):
        return True, "", ""
    left = incomplete(pod, init_statuses)
    if not left:
        return True, "", ""
    return False, NOT_INITIALIZED, f"containers with incomplete status: [{' '.join(left)}]"


def init_phase(
    pod: Mapping[str, Any], init_statuses: list[dict[str, Any]], initialized: bool
) -> str | None:
    """``Failed`` when a regular init container failed under ``restartPolicy: Never``,
    ``Pending`` while initialization goes on, else None (the app containers decide)."""
    restart_policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    by_name = {s.get("name"): s for s in init_statuses}
    failed = False
    for container in _inits(pod):
        if _is_sidecar(container):
            continue
        status = by_name.get(container["name"]) or {}
        state = status.get("state") or {}
        last = (status.get("lastState") or {}).get("terminated")
        term = state.get("terminated")
        if isinstance(term, Mapping):
            failed = failed or term.get("exitCode") != 0
        elif "waiting" in state and isinstance(last, Mapping):
            failed = failed or last.get("exitCode") != 0
    if failed and restart_policy == "Never":
        return "Failed"
    if not initialized:
        return "Pending"
    return None


def set_init_readiness(pod: Mapping[str, Any], init_statuses: list[dict[str, Any]]) -> None:
    """A regular init container is ready once it succeeded (the prober manager's rule); a
    sidecar keeps the readiness its probes gave."""
    regular = {c["name"] for c in _inits(pod) if not _is_sidecar(c)}
    for status in init_statuses:
        if status.get("name") in regular:
            status["ready"] = _succeeded(status)


def unready_sidecars(pod: Mapping[str, Any], init_statuses: list[dict[str, Any]]) -> list[str]:
    """Sidecars count in ``ContainersReady`` as the app containers do."""
    names = {c["name"] for c in _inits(pod) if _is_sidecar(c)}
    return [str(s["name"]) for s in init_statuses if s.get("name") in names and not s.get("ready")]
