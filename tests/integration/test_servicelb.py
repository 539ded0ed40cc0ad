"""The ServiceLB controller over the real registry and Redis, fed by shared informers pumped by
hand: a LoadBalancer Service gets the Ready nodes' addresses as its ingress, follows a node
becoming NotReady or Ready, leaves Services with a loadBalancerClass and other types alone, and
node heartbeats queue nothing."""

from __future__ import annotations

from typing import Any

import pytest

from common.resources import must
from control.controllers.servicelb import ServiceLBController
from control.informers import SharedInformers
from control.registry.registry import Registry
from tests.integration.informerpump import drain, pump

NODES, SERVICES = must("nodes"), must("services")


def node(reg: Registry, name: str, ip: str, ready: str = "True") -> None:
    if not reg.list(NODES, "", field_selector=f"metadata.name={name}")["items"]:
        reg.create(NODES, "", {"metadata": {"name": name}})
    obj = reg.get(NODES, "", name)
    obj["status"] = {
        "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
        "conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady"}],
    }
    reg.replace(NODES, "", name, obj, sub="status")


def lb(reg: Registry, name: str, **spec: Any) -> None:
    body = {"metadata": {"name": name},
            "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}],
                     **spec}}  # fmt: skip
    reg.create(SERVICES, "default", body)


def ingress(reg: Registry, name: str) -> Any:
    return reg.get(SERVICES, "default", name)["status"]["loadBalancer"].get("ingress")


@pytest.fixture
def world(app: Any) -> tuple[Registry, SharedInformers, ServiceLBController]:
    reg: Registry = app.extensions["tinykube"]["registry"]
    informers = SharedInformers(reg)
    return reg, informers, ServiceLBController(reg, informers)


def test_ingress_follows_the_ready_nodes(world: Any) -> None:
    reg, informers, ctl = world
    node(reg, "n1", "192.0.2.11")
    node(reg, "n2", "192.0.2.12")
    lb(reg, "web")
    lb(reg, "classy", loadBalancerClass="example.com/lb")
    reg.create(SERVICES, "default", {"metadata": {"name": "plain"},
                                     "spec": {"ports": [{"port": 80}]}})  # fmt: skip
    pump(informers)
    assert drain(ctl.controller) == ["default/web"]
    assert ingress(reg, "web") == [{"ip": "192.0.2.11", "ipMode": "VIP"},
                                   {"ip": "192.0.2.12", "ipMode": "VIP"}]  # fmt: skip
    assert ingress(reg, "classy") is None and ingress(reg, "plain") is None
    node(reg, "n2", "192.0.2.12", ready="False")
    pump(informers)
    drain(ctl.controller)
    assert ingress(reg, "web") == [{"ip": "192.0.2.11", "ipMode": "VIP"}]
    node(reg, "n1", "192.0.2.11", ready="False")
    pump(informers)
    drain(ctl.controller)
    assert ingress(reg, "web") is None


def test_heartbeats_queue_nothing(world: Any) -> None:
    reg, informers, ctl = world
    node(reg, "n1", "192.0.2.11")
    lb(reg, "web")
    for _ in range(2):  # the second pass sees its own status write, and changes nothing
        pump(informers)
        drain(ctl.controller)
    n = reg.get(NODES, "", "n1")
    n["status"]["conditions"][0]["lastHeartbeatTime"] = "2030-01-01T00:00:00Z"
    reg.replace(NODES, "", "n1", n, sub="status")
    pump(informers)
    assert drain(ctl.controller) == []


def test_type_change_clears_the_ingress(world: Any) -> None:
    reg, informers, ctl = world
    node(reg, "n1", "192.0.2.11")
    lb(reg, "web")
    pump(informers)
    drain(ctl.controller)
    assert ingress(reg, "web")
    merge = "application/merge-patch+json"
    reg.patch(SERVICES, "default", "web", {"spec": {"type": "ClusterIP"}}, merge)
    assert reg.get(SERVICES, "default", "web")["status"] == {"loadBalancer": {}}
    pump(informers)
    assert drain(ctl.controller) == []
