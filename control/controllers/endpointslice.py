"""The EndpointSlice controller, as Kubernetes' (pkg/controller/endpointslice): Service, pod and
EndpointSlice events queue the Services they concern, and ``sync(namespace/name)`` reads the
caches, asks ``plan_slices`` for the writes and applies them through the registry (creates,
updates, deletes), remembering each write so that a cache that has not caught up yet is never
planned from (the slices would be created twice). A Service deleted takes its slices with it
through their ownerReferences (the garbage collector). Shell.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from typing import Any

from common import errors
from common.controller import Controller
from common.informer import Handler
from common.resources import must
from common.wellknown import ENDPOINTSLICE_CONTROLLER, MANAGED_BY_LABEL
from control.controllers.endpoint_pods import selects, service_selector
from control.controllers.endpointslice_plan import MAX_ENDPOINTS_PER_SLICE, SlicePlan, plan_slices
from control.controllers.servicepods import NAMESPACE, memberships, services_to_update
from control.controllers.slicetracker import SliceTracker, service_key
from control.controllers.triggertime import TriggerTimeTracker, annotate
from control.informers import SharedInformers
from control.registry.registry import Registry
from control.validation.discovery import MAX_ENDPOINTS

log = logging.getLogger(__name__)

ENDPOINTSLICES = must("endpointslices")
# kube-controller-manager's --concurrent-service-endpoint-syncs.
WORKERS = 5
SERVICE_INDEX = "serviceName"

Obj = dict[str, Any]


def add_flags(p: argparse.ArgumentParser) -> None:
    """kube-controller-manager's flag of this controller."""
    p.add_argument("--max-endpoints-per-slice", type=_per_slice, metavar="N",
                   default=MAX_ENDPOINTS_PER_SLICE,
                   help="endpoints an EndpointSlice holds at most, 1 to 1000 "
                   f"(default {MAX_ENDPOINTS_PER_SLICE})")  # fmt: skip


def _per_slice(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_ENDPOINTS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_ENDPOINTS}: {text!r}")
    return value


def managed(slice_: Obj) -> bool:
    labels = (slice_.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == ENDPOINTSLICE_CONTROLLER


def by_service(slice_: Obj) -> list[str]:
    """Index: ``namespace/service`` of the slices this controller manages."""
    key = service_key(slice_)
    return [key] if key and managed(slice_) else []


class EndpointSliceController(Controller):
    def __init__(
        self,
        registry: Registry,
        informers: SharedInformers,
        *,
        max_endpoints: int = MAX_ENDPOINTS_PER_SLICE,
        workers: int = WORKERS,
    ) -> None:
        super().__init__("endpoint_slice", self.sync, workers=workers, initial=self._all_keys)
        self.registry = registry
        self.max_endpoints = max_endpoints
        self.tracker = SliceTracker()
        self.trigger = TriggerTimeTracker()
        services = informers.informer("services")
        pods = informers.informer("pods")
        slices = informers.informer("endpointslices", {SERVICE_INDEX: by_service})
        nodes = informers.informer("nodes")
        self.services, self.pods = services.store, pods.store
        self.slices, self.nodes = slices.store, nodes.store
        services.add_handler(self.handler())
        pods.add_handler(Handler(self._pod_added, self._pod_updated, self._pod_added))
        slices.add_handler(Handler(self._slice_added, self._slice_updated, self._slice_deleted))

    def _all_keys(self) -> list[str]:
        return self.services.keys()

    # -- event handlers ----------------------------------------------------------------------

    def _pod_added(self, pod: Obj) -> None:
        for key in memberships(self.services, pod):
            self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        for key in services_to_update(self.services, old, new):
            self.queue.add(key)

    def _queue_for(self, slice_: Obj) -> None:
        key = service_key(slice_)
        if key:
            self.queue.add(key)

    def _slice_added(self, slice_: Obj) -> None:
        if managed(slice_) and self.tracker.should_sync(slice_):
            self._queue_for(slice_)

    def _slice_updated(self, old: Obj, new: Obj) -> None:
        if service_key(old) != service_key(new) or managed(old) != managed(new):
            self._queue_for(old)
            self._queue_for(new)
        elif managed(new) and self.tracker.should_sync(new):
            self._queue_for(new)

    def _slice_deleted(self, slice_: Obj) -> None:
        if managed(slice_) and not self.tracker.handle_deletion(slice_):
            self._queue_for(slice_)

    # -- the sync ----------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        """syncService: converge the slices of one Service from the caches."""
        svc = self.services.get(key)
        if svc is None:
            self.tracker.delete_service(key)  # its slices go with it (ownerReferences)
            self.trigger.delete_service(key)
            return
        selector = service_selector(svc)
        if selector is None:
            return  # ExternalName, or slices written by hand
        namespace = key.split("/", 1)[0]
        pods = [p for p in self.pods.by_index(NAMESPACE, namespace) if selects(selector, p)]
        slices = [
            s
            for s in self.slices.by_index(SERVICE_INDEX, key)
            if not (s.get("metadata") or {}).get("deletionTimestamp")
        ]
        if self.tracker.stale(key, slices):
            # Retried with back-off until the cache has seen the last writes.
            raise errors.ConflictError(f"endpointslices of {key}: the cache is out of date")
        names = {str((p.get("spec") or {}).get("nodeName") or "") for p in pods}
        nodes = {n: node for n in names if (node := self.nodes.get(n)) is not None}
        when = self.trigger.compute(key, svc, pods)
        plan = plan_slices(svc, pods, nodes, slices, self.max_endpoints)
        for s in plan.create + plan.update:
            annotate(s, when)
        write_slices(self.registry, self.tracker, namespace, plan)
        if plan.missing_nodes:
            raise errors.ConflictError(
                f"service {key}: skipped pods on Nodes not found: {', '.join(plan.missing_nodes)}"
            )


def write_slices(
    registry: Registry, tracker: SliceTracker, namespace: str, plan: SlicePlan
) -> None:
    """finalize: creates, then updates, then deletes, each remembered by ``tracker`` (a
    terminating namespace refuses the creates: nothing is left to do there)."""
    for s in plan.create:
        try:
            created, _ = registry.create(ENDPOINTSLICES, namespace, s)
        except errors.ForbiddenError as e:
            if "being terminated" in e.message:
                return
            raise
        tracker.update(created)
    for s in plan.update:
        tracker.update(registry.replace(ENDPOINTSLICES, namespace, s["metadata"]["name"], s))
    for s in plan.delete:
        options = {"preconditions": {"uid": s["metadata"].get("uid")}}
        tracker.expect_deletion(s)
        with contextlib.suppress(errors.NotFoundError):
            registry.delete(ENDPOINTSLICES, namespace, s["metadata"]["name"], options)
