"""The node IPAM loop: every Node without ``spec.podCIDR`` gets its allocated pod CIDR (the one
its agent was told when it joined, or a new one), as kube-controller-manager's node IPAM
controller sets it. Shell: reads and writes Nodes through the store."""

from __future__ import annotations

import logging
import threading
from typing import Any

from common import errors
from control.podcidrs import PodCidrs
from control.registry.registry import Registry

log = logging.getLogger(__name__)

# Also look every so often, in case a change was missed while the watch was down.
PERIOD = 30.0


def needs_cidr(node: dict[str, Any]) -> bool:
    return not (node.get("spec") or {}).get("podCIDR")


class NodeIpamController:
    name = "node-ipam"
    watches: tuple[str, ...] = ("nodes",)

    def __init__(self, registry: Registry, cidrs: PodCidrs, period: float = PERIOD) -> None:
        self.store = registry.store
        self.cidrs = cidrs
        self.period = period
        self.wake = threading.Event()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.wake.clear()
            try:
                self.sync()
            except errors.ApiError as e:
                log.warning("node ipam: pass failed: %s", e)
            self.wake.wait(self.period)

    def sync(self) -> list[str]:
        """Give every node that lacks one its pod CIDR; return the nodes written."""
        written = []
        nodes, _ = self.store.list("nodes")
        for node in nodes:
            if not needs_cidr(node):
                continue
            name = str(node["metadata"]["name"])
            cidr = self.cidrs.allocate(name)
            spec = {**(node.get("spec") or {}), "podCIDR": cidr, "podCIDRs": [cidr]}
            rv = int(node["metadata"]["resourceVersion"])
            try:
                self.store.update("nodes", {**node, "spec": spec}, expected_rv=rv)
            except (errors.ConflictError, errors.NotFoundError) as e:
                log.info("node %s: pod CIDR not written this pass: %s", name, e)
                self.wake.set()
                continue
            log.info("node %s: pod CIDR %s", name, cidr)
            written.append(name)
        return written
