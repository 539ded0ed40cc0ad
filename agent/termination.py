"""Termination messages of a pod's finished containers (the kubelet's ``getTerminationMessage``):
the file at ``terminationMessagePath`` read from the stopped container, or, with
``FallbackToLogsOnError`` and a failed container that wrote none, the tail of its logs. Read once
per container and remembered. Effectful (runtime reads).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from agent import runtime as rt
from agent.runtime import ContainerInfo, Runtime

DEFAULT_PATH = "/dev/termination-log"
# The kubelet's limits: a message file is cut at 4 KiB; the log fallback is its last 80 lines,
# at most 2 KiB of them.
MAX_MESSAGE_BYTES = 4096
MAX_LOG_LINES = 80
MAX_LOG_BYTES = 2048


def _spec(pod: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    spec = pod.get("spec") or {}
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if container.get("name") == name:
                return dict(container)
    return {}


class TerminationMessages:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._lock = threading.Lock()
        self._known: dict[str, dict[str, str]] = {}  # pod uid -> container id -> message

    def collect(self, pod: Mapping[str, Any], containers: list[ContainerInfo]) -> dict[str, str]:
        """Container id → message for every exited app container of ``pod`` that has one."""
        uid = str(pod["metadata"]["uid"])
        with self._lock:
            known = dict(self._known.get(uid, {}))
        exited = [c for c in containers if c.pod_uid == uid and c.role == "app"
                  and c.state == "exited"]  # fmt: skip
        for c in exited:
            if c.id not in known:
                known[c.id] = self._read(_spec(pod, c.container_name), c)
        with self._lock:
            self._known[uid] = {c.id: known[c.id] for c in exited}
        return {cid: message for cid, message in known.items() if message}

    def forget(self, uid: str) -> None:
        with self._lock:
            self._known.pop(uid, None)

    def _read(self, container: Mapping[str, Any], info: ContainerInfo) -> str:
        path = str(container.get("terminationMessagePath") or DEFAULT_PATH)
        try:
            data = self.runtime.read_file(info.id, path, MAX_MESSAGE_BYTES)
        except rt.ContainerRuntimeError:
            data = None
        if data:
            return data.decode(errors="replace")
        policy = container.get("terminationMessagePolicy")
        if policy != "FallbackToLogsOnError" or info.exit_code in (0, None):
            return ""
        try:
            tail = b"".join(self.runtime.logs(info.id, tail=MAX_LOG_LINES))
        except rt.ContainerRuntimeError:
            return ""
        return tail[-MAX_LOG_BYTES:].decode(errors="replace")
