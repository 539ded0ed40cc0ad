"""Stop a pod's containers as the kubelet's ``killContainersWithSyncResult`` does: the regular
containers in parallel, each after its preStop hook and within its grace period (SIGTERM, then
SIGKILL at its end), and native sidecars only after them, in reverse order. Effectful (runtime).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agent import initplan
from agent import runtime as rt
from agent.hooks import MIN_GRACE_SECONDS, HookRunner
from agent.runtime import ContainerInfo, Runtime

log = logging.getLogger(__name__)

# Containers stopped at once (each stop waits up to its grace period).
MAX_PARALLEL = 16


def container_spec(pod: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    spec = (pod or {}).get("spec") or {}
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if container.get("name") == name:
                return dict(container)
    return None


class ContainerStopper:
    def __init__(self, runtime: Runtime, hooks: HookRunner) -> None:
        self.runtime = runtime
        self.hooks = hooks

    def stop_all(
        self, pod: dict[str, Any] | None, items: list[tuple[ContainerInfo, float]]
    ) -> None:
        """Stop ``(container, grace seconds)`` pairs; sidecars of ``pod`` last, in reverse order."""
        order = [c["name"] for c in initplan.sidecars(pod or {})]
        sidecars = [i for i in items if i[0].role == "app" and i[0].container_name in order]
        others = [i for i in items if i not in sidecars]
        start = time.monotonic()
        self._parallel(pod, others)
        sidecars.sort(key=lambda i: order.index(i[0].container_name), reverse=True)
        for info, grace in sidecars:
            left = max(MIN_GRACE_SECONDS, grace - (time.monotonic() - start)) if grace else 0.0
            self.stop_one(pod, info, left)

    def _parallel(
        self, pod: dict[str, Any] | None, items: list[tuple[ContainerInfo, float]]
    ) -> None:
        if len(items) <= 1:
            for info, grace in items:
                self.stop_one(pod, info, grace)
            return
        with ThreadPoolExecutor(max_workers=min(len(items), MAX_PARALLEL)) as pool:
            list(pool.map(lambda item: self.stop_one(pod, *item), items))

    def stop_one(self, pod: dict[str, Any] | None, info: ContainerInfo, grace: float) -> None:
        try:
            if info.role == "sandbox":
                self.runtime.remove(info.id)  # holds nothing: SIGKILL and gone
                return
            if pod is not None and info.state == "running":
                ip = str((pod.get("status") or {}).get("podIP") or "")
                spec = container_spec(pod, info.container_name)
                grace = self.hooks.pre_stop(pod, spec, info, grace, ip)
            self.runtime.stop(info.id, grace)
        except rt.ContainerRuntimeError as e:
            log.warning("container %s: stop failed: %s", info.name, e)
