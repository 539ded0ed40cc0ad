"""The scheduler loop: binds every pending pod to the node ``select_node`` picks, through the
``binding`` rules of the registry; a pod that fits nowhere stays Pending with ``PodScheduled=False``
and a ``FailedScheduling`` event. Level-triggered: each pass re-reads pods and nodes."""

from __future__ import annotations

import logging
import threading
from typing import Any

from common import errors, meta
from control import events
from control.registry.binding import set_condition
from control.registry.registry import Registry
from control.scheduler import NodeUsage, select_node, usage_by_node

log = logging.getLogger(__name__)

COMPONENT = "default-scheduler"
# Retry of unschedulable pods even without a change in the cluster (Kubernetes: 5 minutes max).
RETRY_INTERVAL = 5.0


def pending(pod: dict[str, Any]) -> bool:
    spec, m = pod.get("spec") or {}, pod.get("metadata") or {}
    return (
        not spec.get("nodeName")
        and not m.get("deletionTimestamp")
        and spec.get("schedulerName", COMPONENT) == COMPONENT
        and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    )


class Scheduler:
    name = "scheduler"
    watches: tuple[str, ...] = ("pods", "nodes")

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.store = registry.store
        self.wake = threading.Event()
        # Message of the last FailedScheduling event per pod uid, so a pod stuck for the same
        # reason does not flood the event list.
        self._reported: dict[str, str] = {}

    def schedule_pending(self) -> int:
        """One pass over every pending pod, oldest first; returns how many were bound."""
        pods, _ = self.store.list("pods")
        nodes, _ = self.store.list("nodes")
        usage = usage_by_node(pods)
        todo = sorted(
            (p for p in pods if pending(p)),
            key=lambda p: p["metadata"].get("creationTimestamp", ""),
        )
        bound = 0
        for pod in todo:
            decision = select_node(pod, nodes, usage)
            if decision.node is None:
                self._unschedulable(pod, decision.message)
                continue
            try:
                self.registry.bind(
                    pod["metadata"]["namespace"],
                    pod["metadata"]["name"],
                    {"target": {"kind": "Node", "name": decision.node}},
                )
            except errors.ApiError as e:
                log.info("pod %s: not bound: %s", pod["metadata"]["name"], e)
                continue
            usage.setdefault(decision.node, NodeUsage()).add(
                {**pod, "spec": {**pod["spec"], "nodeName": decision.node}}
            )
            self._reported.pop(pod["metadata"].get("uid", ""), None)
            pod["kind"], pod["apiVersion"] = "Pod", "v1"
            events.record(
                self.registry, pod, "Normal", "Scheduled",
                f"Successfully assigned {pod['metadata']['namespace']}/{pod['metadata']['name']} "
                f"to {decision.node}", COMPONENT,
            )  # fmt: skip
            bound += 1
        return bound

    def _unschedulable(self, pod: dict[str, Any], message: str) -> None:
        uid = pod["metadata"].get("uid", "")
        if self._reported.get(uid) == message:
            return
        self._reported[uid] = message
        log.info("pod %s: unschedulable: %s", pod["metadata"]["name"], message)
        set_condition(pod, "PodScheduled", "False", "Unschedulable", message, meta.now())
        try:
            self.store.update("pods", pod, expected_rv=int(pod["metadata"]["resourceVersion"]))
        except errors.ApiError as e:
            log.info("pod %s: condition not written: %s", pod["metadata"]["name"], e)
            self._reported.pop(uid, None)
            return
        pod["kind"], pod["apiVersion"] = "Pod", "v1"
        events.record(self.registry, pod, "Warning", "FailedScheduling", message, COMPONENT)

    def run(self, stop: threading.Event) -> None:
        """Schedule whenever pods or nodes change (or every few seconds), until ``stop``."""
        while not stop.is_set():
            self.wake.clear()
            try:
                self.schedule_pending()
            except errors.ApiError as e:
                log.warning("scheduler: pass failed: %s", e)
            self.wake.wait(RETRY_INTERVAL)
