"""The disruption controller (pkg/controller/disruption): keeps each PodDisruptionBudget's
status (how many of its pods are healthy, how many must be, how many may be disrupted now)
from the shared informers of budgets, pods and every kind with a ``scale`` subresource. The
arithmetic is ``disruption_plan``'s; writes go through the registry's ``/status``. Shell.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from common import budgets, errors, meta
from common.controller import Controller
from common.informer import Handler, Informer, key_of
from common.resources import RESOURCES, by_kind, must
from control import events
from control.controllers import disruption_plan as plan
from control.informers import SharedInformers
from control.registry.registry import Registry

log = logging.getLogger(__name__)

PDBS = must("poddisruptionbudgets")
COMPONENT = "controllermanager"
Obj = dict[str, Any]
UNMANAGED = (
    "Pods selected by this PodDisruptionBudget (selector: {selector}) were found to be "
    "unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may "
    'result in undefined behavior. To account for these pods please set ".spec.minAvailable" '
    "field of the PDB to an integer value."
)


def _namespace(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


class DisruptionController:
    name = "disruption"

    def __init__(
        self,
        registry: Registry,
        informers: SharedInformers,
        *,
        clock: Callable[[], dt.datetime] = meta.now,
    ) -> None:
        self.registry = registry
        self.clock = clock
        self.pdbs = informers.informer("poddisruptionbudgets")
        self.pods = informers.informer("pods")
        # Every kind whose replicas a budget may count: Deployments, ReplicaSets, and any
        # workload kind with a ``scale`` subresource that is served.
        self.scaled: dict[str, Informer] = {
            rt.plural: informers.informer(rt.plural)
            for rt in RESOURCES
            if "scale" in rt.subresources
        }
        self.controller = Controller(self.name, self.sync, initial=self.pdbs.store.keys)
        self.pdbs.add_handler(self.controller.handler())
        self.pods.add_handler(
            Handler(
                on_add=self._on_pod,
                on_update=self._on_pod_update,
                on_delete=self._on_pod,
            )
        )
        for inf in self.scaled.values():
            inf.add_handler(
                Handler(on_update=lambda _o, new: self._on_scaled(new), on_delete=self._on_scaled)
            )

    def run(self, stop: threading.Event) -> None:
        self.controller.run(stop)

    def _budgets_in(self, namespace: str) -> list[Obj]:
        return list(self.pdbs.store.by_index("namespace", namespace))

    def _on_pod(self, pod: Obj) -> None:
        for pdb in self._budgets_in(_namespace(pod)):
            if budgets.covers(pdb, pod):
                self.controller.enqueue(pdb)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        # A pod whose labels changed may have left a budget: both are synced.
        self._on_pod(old)
        self._on_pod(new)

    def _on_scaled(self, obj: Obj) -> None:
        # A change of replicas changes expectedPods of the budgets counting them.
        for pdb in self._budgets_in(_namespace(obj)):
            self.controller.enqueue(pdb)

    def _lookup(self, api_version: str, kind: str, namespace: str, name: str) -> Obj | None:
        rt = by_kind(api_version, kind)
        inf = self.scaled.get(rt.plural) if rt is not None else None
        return inf.store.get(f"{namespace}/{name}") if inf is not None else None

    def _pods_of(self, pdb: Obj) -> list[Obj]:
        """getPodsForPdb: the pods of its namespace its selector matches."""
        return [
            p
            for p in self.pods.store.by_index("namespace", _namespace(pdb))
            if budgets.covers(pdb, p)
        ]

    def sync(self, key: str) -> None:
        pdb = self.pdbs.store.get(key)
        if pdb is None:
            return
        now = self.clock()
        pods = self._pods_of(pdb)
        if not pods:
            self._event(pdb, "Normal", "NoPods", "No matching pods found")
        try:
            counts = plan.expected_counts(pdb, pods, self._lookup)
        except plan.PlanError as e:
            message = f"Failed to calculate the number of expected pods: {e}"
            self._event(pdb, "Warning", "CalculateExpectedPodCountFailed", message)
            self._write(pdb, plan.failsafe_status(pdb, str(e), now))
            return
        if counts.unmanaged:
            selector = plan.selector_text((pdb.get("spec") or {}).get("selector"))
            self._event(pdb, "Warning", "UnmanagedPods", UNMANAGED.format(selector=selector))
        status, recheck = plan.budget_status(pdb, pods, counts, now)
        if status is not None:
            self._write(pdb, status)
            self._not_deleted(pdb, pods, now)
        if recheck is not None:
            self.controller.queue.add_after(key, (recheck - now).total_seconds())

    def _write(self, pdb: Obj, status: Obj) -> None:
        if status == pdb.get("status"):
            return  # a failSafe already written: nothing changes
        body = copy.deepcopy(pdb)
        body["status"] = status
        m = pdb["metadata"]
        try:
            self.registry.replace(PDBS, m["namespace"], m["name"], body, sub="status")
        except errors.NotFoundError:
            return  # deleted meanwhile: its delete event ends it
        log.info(
            "PodDisruptionBudget %s: %d disruption(s) allowed (%d/%d healthy)",
            key_of(pdb),
            status.get("disruptionsAllowed", 0),
            status.get("currentHealthy", 0),
            status.get("desiredHealthy", 0),
        )

    def _not_deleted(self, pdb: Obj, pods: list[Obj], now: dt.datetime) -> None:
        """A Warning on each pod an eviction was approved for that is still there after the
        timeout (its entry has just been dropped from disruptedPods)."""
        _, _, overdue = plan.disrupted_pods(pdb, pods, now)
        message = f"Pod was expected by PDB {key_of(pdb)} to be deleted but it wasn't"
        for pod in pods:
            if pod["metadata"]["name"] in overdue:
                obj = {"kind": "Pod", "apiVersion": "v1", **pod}
                events.record(self.registry, obj, "Warning", "NotDeleted", message, COMPONENT)

    def _event(self, pdb: Obj, etype: str, reason: str, message: str) -> None:
        obj = {"kind": PDBS.kind, "apiVersion": PDBS.api_version, **pdb}
        events.record(self.registry, obj, etype, reason, message, COMPONENT)
