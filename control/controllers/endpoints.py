"""The Endpoints controller, as Kubernetes' (pkg/controller/endpoint): keeps the v1 Endpoints
object of every Service with a selector, for the clients that still read Endpoints. Service and
pod events queue the Services they concern; ``sync(namespace/name)`` asks ``plan_endpoints``
for the object and writes it through the registry. Endpoints have no owner: the controller
deletes those of a deleted Service itself, and at the start of each term looks at every
Endpoints object so that a Service deleted while it was not running loses its own. Shell.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from common import errors
from common.controller import Controller
from common.informer import Handler
from common.resources import must
from control import events
from control.controllers.endpoint_pods import selects, service_selector
from control.controllers.endpoints_plan import plan_endpoints
from control.controllers.servicepods import NAMESPACE, memberships, services_to_update
from control.controllers.triggertime import TriggerTimeTracker, annotate
from control.informers import SharedInformers
from control.registry.registry import Registry

log = logging.getLogger(__name__)

ENDPOINTS = must("endpoints")
WORKERS = 5
COMPONENT = "endpoint-controller"
# Endpoints objects used as leader-election locks carry this annotation; they are no Service's.
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"

Obj = dict[str, Any]


class EndpointsController(Controller):
    def __init__(
        self, registry: Registry, informers: SharedInformers, *, workers: int = WORKERS
    ) -> None:
        super().__init__("endpoint", self.sync, workers=workers, initial=self._all_keys)
        self.registry = registry
        self.trigger = TriggerTimeTracker()
        services = informers.informer("services")
        pods = informers.informer("pods")
        endpoints = informers.informer("endpoints")
        self.services, self.pods, self.endpoints = services.store, pods.store, endpoints.store
        services.add_handler(self.handler())
        pods.add_handler(Handler(self._pod_added, self._pod_updated, self._pod_added))
        # An Endpoints object deleted by hand is made again.
        endpoints.add_handler(Handler(on_delete=self.enqueue))

    def _all_keys(self) -> list[str]:
        """Every Service, and (checkLeftoverEndpoints) every Endpoints object."""
        leftover = [
            e["metadata"]["namespace"] + "/" + e["metadata"]["name"]
            for e in self.endpoints.objects()
            if LEADER_ANNOTATION not in (e["metadata"].get("annotations") or {})
        ]
        return list(dict.fromkeys([*self.services.keys(), *leftover]))

    def _pod_added(self, pod: Obj) -> None:
        for key in memberships(self.services, pod):
            self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        for key in services_to_update(self.services, old, new):
            self.queue.add(key)

    def sync(self, key: str) -> None:
        """syncService: the Service's Endpoints object from the caches."""
        namespace, name = key.split("/", 1)
        svc = self.services.get(key)
        if svc is None:
            self.trigger.delete_service(key)
            with contextlib.suppress(errors.NotFoundError):
                self.registry.delete(ENDPOINTS, namespace, name, {})
            return
        selector = service_selector(svc)
        if selector is None:
            return  # ExternalName, or Endpoints written by hand
        pods = [p for p in self.pods.by_index(NAMESPACE, namespace) if selects(selector, p)]
        current = self.endpoints.get(key)
        when = self.trigger.compute(key, svc, pods)  # kept up to date on every sync
        new = plan_endpoints(svc, pods, current)
        if new is None:
            return
        annotate(new, when)
        try:
            if current is None:
                self.registry.create(ENDPOINTS, namespace, new)
            else:
                self.registry.replace(ENDPOINTS, namespace, name, new)
        except errors.ApiError as e:
            terminating = isinstance(e, errors.ForbiddenError) and "being terminated" in e.message
            if current is None and terminating:
                return  # the namespace goes, and its Endpoints with it
            verb = "create endpoint for service" if current is None else "update endpoint"
            reason = "FailedToCreateEndpoint" if current is None else "FailedToUpdateEndpoint"
            if not isinstance(e, errors.ConflictError | errors.AlreadyExistsError):
                events.record(self.registry, new, "Warning", reason,
                              f"Failed to {verb} {key}: {e.message}", COMPONENT)  # fmt: skip
            raise
