"""Write a pod's status for the agent: the compare-and-set PUT (retried on 409, skipped when
unchanged), and the two ways the kubelet fails a pod outright: admission (a sysctl the node does
not allow: SysctlForbidden) and ``activeDeadlineSeconds`` (DeadlineExceeded). Effectful (API).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from agent import deadline, sysctls
from agent.apis import PODS
from agent.events import WARNING, EventRecorder
from agent.planner import TERMINAL_PHASES
from agent.status import prune
from common import errors
from common.client import ApiClient
from common.qos import get_pod_qos

log = logging.getLogger(__name__)

# A status write loses a CAS race at most this many times in a row before the sync retries.
STATUS_ATTEMPTS = 5


def _ref(pod: dict[str, Any]) -> str:
    return f"{pod['metadata'].get('namespace')}/{pod['metadata'].get('name')}"


class StatusWriter:
    def __init__(
        self,
        client: ApiClient,
        recorder: EventRecorder,
        allowlist: sysctls.Allowlist,
        clock: Callable[[], datetime],
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.sysctls = allowlist
        self.clock = clock

    def write(
        self, pod: dict[str, Any], make_status: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> dict[str, Any] | None:
        """PUT the pod's new status unless unchanged; on 409 read the pod again and retry."""
        meta = pod["metadata"]
        for _ in range(STATUS_ATTEMPTS):
            status = prune(make_status(pod))
            stored = pod.get("status") or {}
            if stored == status or prune(stored) == status:  # as stored, the API has no nulls
                return pod
            body = {**pod, "status": status}
            try:
                return self.client.update(PODS, body, meta["namespace"], sub="status")
            except errors.ConflictError:
                try:
                    fresh = self.client.get(PODS, meta["name"], meta["namespace"])
                except (errors.NotFoundError, errors.ForbiddenError):
                    return None
                if fresh["metadata"].get("uid") != meta.get("uid"):
                    return None
                pod = fresh
            except (errors.NotFoundError, errors.ForbiddenError):
                return None  # deleted, or bound elsewhere meanwhile
        raise errors.ConflictError(f"pod {_ref(pod)}: status kept conflicting")

    def reject(self, pod: dict[str, Any]) -> bool:
        """The kubelet's admission of a pod before it first starts here: a pod naming a sysctl
        this node does not allow fails at once (phase Failed, reason SysctlForbidden)."""
        status = pod.get("status") or {}
        if status.get("phase") in TERMINAL_PHASES:
            # Rejected already: its status stays as the rejection wrote it.
            return status.get("reason") == sysctls.FORBIDDEN_REASON
        why = self.sysctls.admit(pod)
        if why is None:
            return False
        log.info("pod %s: rejected: %s", _ref(pod), why)
        self.fail(pod, sysctls.FORBIDDEN_REASON, why, f"Pod was rejected: {why}")
        return True

    def deadline_left(self, pod: dict[str, Any] | None) -> float | None:
        """Seconds before an active pod's ``activeDeadlineSeconds`` passes (at least 0)."""
        if pod is None or (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
            return None
        left = deadline.remaining(pod, self.clock())
        return None if left is None else max(0.0, left)

    def past_deadline(self, pod: dict[str, Any]) -> dict[str, Any]:
        """The kubelet's activeDeadlineHandler: a pod active longer than its
        ``activeDeadlineSeconds`` fails (DeadlineExceeded), so its containers are stopped.
        Returns the pod, as written if it failed now."""
        left = self.deadline_left(pod)
        if left is None or left > 0:
            return pod
        log.info("pod %s: active deadline exceeded", _ref(pod))
        return self.fail(pod, deadline.REASON, deadline.MESSAGE, deadline.MESSAGE) or pod

    def fail(
        self, pod: dict[str, Any], reason: str, event: str, message: str
    ) -> dict[str, Any] | None:
        """The pod fails for good with ``reason`` (a Warning event says why)."""
        self.recorder.record(pod, reason, event, WARNING)

        def make_status(current: dict[str, Any]) -> dict[str, Any]:
            return {**(current.get("status") or {}), "phase": "Failed", "reason": reason,
                    "message": message, "qosClass": get_pod_qos(current)}  # fmt: skip

        return self.write(pod, make_status)
