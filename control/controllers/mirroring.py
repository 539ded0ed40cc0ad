"""The EndpointSlice mirroring controller, as Kubernetes' (pkg/controller/endpointslicemirroring):
the Endpoints object of a Service without a selector, written by hand, is mirrored into
EndpointSlices, so that what reads only slices (the node proxy, cluster DNS) sees it too.
Endpoints, Service and mirrored slice events queue ``namespace/name``; ``sync`` mirrors, or
deletes the mirrored slices when there is nothing to mirror (no Service, a Service with a
selector, no Endpoints, or Endpoints marked ``skip-mirror`` as the ``kubernetes`` Service's
are). Shell.
"""

from __future__ import annotations

from typing import Any

from common import errors
from common.controller import Controller
from common.informer import Handler
from common.wellknown import MANAGED_BY_LABEL, SKIP_MIRROR_LABEL
from control import events
from control.controllers.endpoints import LEADER_ANNOTATION
from control.controllers.endpointslice import write_slices
from control.controllers.mirroring_plan import MIRRORING_CONTROLLER, MirrorPlan, plan_mirrored
from control.controllers.slicetracker import SliceTracker, service_key
from control.informers import SharedInformers
from control.registry.registry import Registry

WORKERS = 5
COMPONENT = "endpointslice-mirroring-controller"
MIRRORED_INDEX = "mirroredFor"

Obj = dict[str, Any]


def mirrored(slice_: Obj) -> bool:
    labels = (slice_.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MIRRORING_CONTROLLER


def by_endpoints(slice_: Obj) -> list[str]:
    key = service_key(slice_)
    return [key] if key and mirrored(slice_) else []


def should_mirror(endpoints: Obj | None) -> bool:
    if endpoints is None:
        return False
    m = endpoints.get("metadata") or {}
    if (m.get("labels") or {}).get(SKIP_MIRROR_LABEL) == "true":
        return False
    return LEADER_ANNOTATION not in (m.get("annotations") or {})


class MirroringController(Controller):
    def __init__(
        self, registry: Registry, informers: SharedInformers, *, workers: int = WORKERS
    ) -> None:
        super().__init__("endpoint_slice_mirroring", self.sync, workers=workers,
                         initial=self._all_keys)  # fmt: skip
        self.registry = registry
        self.tracker = SliceTracker()
        services = informers.informer("services")
        endpoints = informers.informer("endpoints")
        slices = informers.informer("endpointslices", {MIRRORED_INDEX: by_endpoints})
        self.services, self.endpoints, self.slices = services.store, endpoints.store, slices.store
        services.add_handler(self.handler())
        endpoints.add_handler(self.handler())
        slices.add_handler(Handler(self._slice_changed, lambda _o, n: self._slice_changed(n),
                                   self._slice_deleted))  # fmt: skip

    def _all_keys(self) -> list[str]:
        mirrors = [service_key(s) for s in self.slices.objects() if mirrored(s)]
        return list(dict.fromkeys([*self.endpoints.keys(), *mirrors]))

    def _slice_changed(self, slice_: Obj) -> None:
        key = service_key(slice_)
        if key and mirrored(slice_) and self.tracker.should_sync(slice_):
            self.queue.add(key)

    def _slice_deleted(self, slice_: Obj) -> None:
        key = service_key(slice_)
        if key and mirrored(slice_) and not self.tracker.handle_deletion(slice_):
            self.queue.add(key)

    def sync(self, key: str) -> None:
        """syncEndpoints."""
        namespace = key.split("/", 1)[0]
        svc = self.services.get(key)
        endpoints = self.endpoints.get(key)
        slices = [
            s
            for s in self.slices.by_index(MIRRORED_INDEX, key)
            if not (s.get("metadata") or {}).get("deletionTimestamp")
        ]
        selector = ((svc or {}).get("spec") or {}).get("selector")
        if svc is None or selector or endpoints is None or not should_mirror(endpoints):
            if svc is None:
                self.tracker.delete_service(key)
            write_slices(self.registry, self.tracker, namespace, MirrorPlan(delete=slices))
            return
        if self.tracker.stale(key, slices):
            raise errors.ConflictError(f"endpointslices of {key}: the cache is out of date")
        plan = plan_mirrored(endpoints, slices)
        if plan.invalid:
            self._event(endpoints, "InvalidIPAddress",
                        f"Skipped {plan.invalid} invalid IP addresses when mirroring to "
                        "EndpointSlices")  # fmt: skip
        if plan.skipped > plan.invalid:
            self._event(endpoints, "TooManyAddressesToMirror",
                        "A max of 1000 addresses can be mirrored to EndpointSlices per "
                        f"Endpoints subset. {plan.skipped} addresses were skipped")  # fmt: skip
        write_slices(self.registry, self.tracker, namespace, plan)

    def _event(self, endpoints: Obj, reason: str, message: str) -> None:
        events.record(self.registry, endpoints, "Warning", reason, message, COMPONENT)
