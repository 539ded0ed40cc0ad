"""The ServiceLB controller, as k3s's: every LoadBalancer Service without a
``loadBalancerClass`` gets the Ready nodes' addresses as its load balancer ingress (the node
ports kube-proxy opens on every node carry the traffic). ``sync("ns/name")`` reads the shared
Service and Node informers; a Node change that alters the Ready set queues every LoadBalancer
Service. The plan is ``servicelb_plan``; writes go through the registry's status subresource.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from common.controller import Controller
from common.informer import Handler, key_of
from common.resources import must
from control.controllers import servicelb_plan as plan
from control.controllers import writes
from control.informers import SharedInformers
from control.registry.registry import Registry

log = logging.getLogger(__name__)

SERVICES = must("services")
Obj = dict[str, Any]


class ServiceLBController:
    name = "service-lb"

    def __init__(self, registry: Registry, informers: SharedInformers) -> None:
        self.registry = registry
        self.services = informers.informer("services")
        self.nodes = informers.informer("nodes")
        self.controller = Controller(self.name, self.sync, initial=self._balanced)
        self.services.add_handler(
            Handler(on_add=self._on_service, on_update=lambda _old, new: self._on_service(new))
        )
        self.nodes.add_handler(
            Handler(on_add=self._on_node, on_update=self._on_node_update, on_delete=self._on_node)
        )

    def _on_service(self, svc: Obj) -> None:
        if plan.handled(svc):
            self.controller.enqueue(svc)

    def _on_node(self, node: Obj) -> None:
        for key in self._balanced():
            self.controller.queue.add(key)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        """Heartbeats change neither readiness nor addresses: they queue nothing."""
        if plan.ingress_of([old]) != plan.ingress_of([new]):
            self._on_node(new)

    def _balanced(self) -> list[str]:
        return [key_of(s) for s in self.services.store.objects() if plan.handled(s)]

    def run(self, stop: threading.Event) -> None:
        self.controller.run(stop)

    def sync(self, key: str) -> None:
        """Bring the Service's ingress to the Ready nodes' addresses. A write that loses to a
        concurrent change is dropped: the change reaches the handler, which queues it again."""
        svc = self.services.store.get(key)
        if svc is None:
            return
        status = plan.planned_status(svc, self.nodes.store.objects())
        if status is None:
            return
        if writes.write_status(self.registry, SERVICES, svc, status) is not None:
            ingress = status["loadBalancer"].get("ingress") or []
            log.debug("service %s: load balancer at %s", key, [i["ip"] for i in ingress])
