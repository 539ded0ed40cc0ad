"""The node IPAM controller over the shared Node informer: it queues only nodes that lack a pod
CIDR, and a write that loses to a concurrent change is made again once the change reaches it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from common.meta import without_managed_fields
from common.resources import must
from control.controllers.nodeipam import NodeIpamController
from control.informers import SharedInformers
from control.podcidrs import PodCidrs
from control.registry.registry import Registry

NODES = must("nodes")


def wait_for(check: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def ipam(app: Any) -> Iterator[tuple[Registry, NodeIpamController]]:
    reg: Registry = app.extensions["tinykube"]["registry"]
    informers = SharedInformers(reg)
    controller = NodeIpamController(reg, PodCidrs(reg.store, "10.244.0.0/16"), informers)
    stop = threading.Event()
    informers.start(stop)
    assert informers.wait_for_sync(stop, timeout=10)
    yield reg, controller
    stop.set()


def take(controller: NodeIpamController) -> list[str]:
    keys = []
    while (key := controller.controller.queue.get(0.2)) is not None:
        controller.controller.queue.done(key)
        keys.append(key)
    return keys


def test_only_nodes_without_a_cidr_are_queued(ipam: tuple[Registry, NodeIpamController]) -> None:
    reg, controller = ipam
    reg.create(NODES, "", {"metadata": {"name": "a"}})
    assert take(controller) == ["a"]
    controller.sync("a")
    wait_for(lambda: (controller.nodes.store.get("a") or {}).get("spec", {}).get("podCIDR"))
    node = reg.get(NODES, "", "a")
    node["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    reg.replace(NODES, "", "a", node, sub="status")  # a status post: nothing for IPAM
    # The informer's copy is the stored node without its managedFields.
    stored = lambda: without_managed_fields(reg.get(NODES, "", "a"))  # noqa: E731
    wait_for(lambda: controller.nodes.store.get("a") == stored())
    assert take(controller) == []


def test_a_write_lost_to_a_change_is_made_when_the_change_arrives(
    ipam: tuple[Registry, NodeIpamController],
) -> None:
    reg, controller = ipam
    reg.create(NODES, "", {"metadata": {"name": "a"}})
    assert take(controller) == ["a"]
    stale = controller.nodes.store.get("a")
    node = reg.get(NODES, "", "a")
    node["metadata"]["labels"] = {"zone": "b"}
    reg.replace(NODES, "", "a", node)
    cache, real_get = controller.nodes.store, controller.nodes.store.get
    cache.get = lambda key: stale  # type: ignore[method-assign]
    controller.sync("a")  # from the stale copy: loses to the label
    cache.get = real_get  # type: ignore[method-assign]
    assert not reg.get(NODES, "", "a")["spec"].get("podCIDR")
    wait_for(lambda: (real_get("a") or {})["metadata"].get("labels"))
    assert take(controller) == ["a"]  # the label's event queued it again
    controller.sync("a")
    spec = reg.get(NODES, "", "a")["spec"]
    assert spec == {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]}
    assert reg.get(NODES, "", "a")["metadata"]["labels"] == {"zone": "b"}
