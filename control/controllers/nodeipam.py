"""The node IPAM controller: every Node without ``spec.podCIDR`` gets its allocated pod CIDR (the
one its agent was told when it joined, or a new one), as kube-controller-manager's node IPAM
controller sets it. ``sync(name)`` over the shared Node informer; its handler queues only the
nodes that lack a CIDR, so status heartbeats cost it nothing. Shell: writes through the
registry."""

from __future__ import annotations

import logging
import threading
from typing import Any

from common.controller import Controller
from common.informer import Handler
from common.resources import must
from control.controllers import writes
from control.informers import SharedInformers
from control.podcidrs import PodCidrs
from control.registry.registry import Registry

log = logging.getLogger(__name__)

NODES = must("nodes")


def needs_cidr(node: dict[str, Any]) -> bool:
    return not (node.get("spec") or {}).get("podCIDR")


class NodeIpamController:
    name = "node-ipam"

    def __init__(self, registry: Registry, cidrs: PodCidrs, informers: SharedInformers) -> None:
        self.registry = registry
        self.cidrs = cidrs
        self.nodes = informers.informer("nodes")
        self.controller = Controller(self.name, self.sync, initial=self._lacking)
        self.nodes.add_handler(
            Handler(on_add=self._on_node, on_update=lambda _old, new: self._on_node(new))
        )

    def _on_node(self, node: dict[str, Any]) -> None:
        if needs_cidr(node):
            self.controller.enqueue(node)

    def _lacking(self) -> list[str]:
        return [str(n["metadata"]["name"]) for n in self.nodes.store.objects() if needs_cidr(n)]

    def run(self, stop: threading.Event) -> None:
        self.controller.run(stop)

    def sync(self, key: str) -> None:
        """Give the node its pod CIDR if it still lacks one. A write that loses to a concurrent
        change is dropped: the change reaches the handler, which queues the node again."""
        node = self.nodes.store.get(key)
        if node is None or not needs_cidr(node):
            return
        cidr = self.cidrs.allocate(key)
        spec = {**(node.get("spec") or {}), "podCIDR": cidr, "podCIDRs": [cidr]}
        if writes.replace(self.registry, NODES, {**node, "spec": spec}) is not None:
            log.info("node %s: pod CIDR %s", key, cidr)
