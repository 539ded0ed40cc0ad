"""Where a pod stands in its init sequence: the kubelet's ``computeInitContainerActions``.

Init containers run one at a time, in spec order, each to success before the next starts; a
native sidecar (``restartPolicy: Always``) only has to be started (its startupProbe passed) and
then stays running. The walk looks only at the containers of the current sandbox: a new sandbox
runs the init sequence again. A pod one of whose regular containers was created in this sandbox
is initialized for good (records of finished init containers may have been removed since).
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.prober import ContainerProbes
from agent.runtime import ContainerInfo


@dataclass(frozen=True)
class InitProgress:
    """``ensure``: init containers that must run now (the sidecars already reached and, unless
    initialized, the one regular init container whose turn it is); ``failed``: a regular init
    container failed under ``restartPolicy: Never``, so the pod has failed."""

    initialized: bool
    ensure: list[dict[str, Any]] = field(default_factory=list)
    failed: bool = False


def is_sidecar(container: Mapping[str, Any]) -> bool:
    return container.get("restartPolicy") == "Always"


def sidecars(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [c for c in (pod.get("spec") or {}).get("initContainers") or [] if is_sidecar(c)]


def _newest(records: list[ContainerInfo]) -> ContainerInfo | None:
    if not records:
        return None
    return max(records, key=lambda c: (c.attempt, c.created_at or datetime.min))


def is_started(
    container: Mapping[str, Any], info: ContainerInfo, probes: Mapping[str, ContainerProbes]
) -> bool:
    """Running, and past its startup probe if it has one."""
    if info.state != "running":
        return False
    if not container.get("startupProbe"):
        return True
    return probes.get(info.id, ContainerProbes()).started is True


def init_progress(
    pod: Mapping[str, Any],
    sandbox_id: str,
    apps: list[ContainerInfo],
    probes: Mapping[str, ContainerProbes],
) -> InitProgress:
    """Walk the init containers of ``pod`` over the records ``apps`` (see the module doc)."""
    spec = pod.get("spec") or {}
    inits = spec.get("initContainers") or []
    here = [c for c in apps if c.sandbox_id == sandbox_id]
    regular = {c["name"] for c in spec.get("containers") or []}
    if any(c.container_name in regular for c in here):
        return InitProgress(True, [c for c in inits if is_sidecar(c)])
    restart_policy = spec.get("restartPolicy") or "Always"
    ensure: list[dict[str, Any]] = []
    for container in inits:
        latest = _newest([c for c in here if c.container_name == container["name"]])
        if is_sidecar(container):
            ensure.append(container)
            if latest is not None and is_started(container, latest, probes):
                continue
            return InitProgress(False, ensure)
        if latest is not None and latest.state == "exited" and latest.exit_code == 0:
            continue
        failed = latest is not None and latest.state == "exited"
        if failed and restart_policy == "Never":
            return InitProgress(False, ensure, failed=True)
        return InitProgress(False, [*ensure, container])
    return InitProgress(True, ensure)


def first_to_start(pod: Mapping[str, Any]) -> dict[str, Any] | None:
    """In a new sandbox the init sequence starts over: its first container, if any."""
    inits = (pod.get("spec") or {}).get("initContainers") or []
    return dict(inits[0]) if inits else None
