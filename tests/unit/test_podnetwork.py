"""Pod networking across nodes: one pod CIDR per node out of the cluster CIDR, and the host
routes each node keeps to the other nodes' pod CIDRs."""

from __future__ import annotations

from typing import Any

import pytest

from agent.routes import desired_routes, parse_routes, plan
from common import errors
from control.memory_store import MemoryStore
from control.podcidrs import PodCidrs, pick


def test_pick_takes_the_first_free_subnet() -> None:
    assert pick("10.244.0.0/16", 24, set()) == "10.244.0.0/24"
    assert pick("10.244.0.0/16", 24, {"10.244.0.0/24", "10.244.2.0/24"}) == "10.244.1.0/24"


def test_pick_fails_when_the_range_is_used_up() -> None:
    with pytest.raises(errors.ServiceUnavailableError):
        pick("10.244.0.0/23", 24, {"10.244.0.0/24", "10.244.1.0/24"})
    with pytest.raises(ValueError):
        pick("10.244.0.0/24", 16, set())


def test_allocations_are_stable_and_distinct() -> None:
    cidrs = PodCidrs(MemoryStore(), "10.244.0.0/16")
    a, b = cidrs.allocate("a"), cidrs.allocate("b")
    assert a != b
    assert cidrs.allocate("a") == a
    assert cidrs.allocated() == {"a": a, "b": b}


def node(name: str, cidr: str | None, ip: str | None) -> dict[str, Any]:
    addresses = [{"type": "InternalIP", "address": ip}] if ip else []
    spec = {"podCIDR": cidr} if cidr else {}
    return {"metadata": {"name": name}, "spec": spec, "status": {"addresses": addresses}}


def test_routes_go_to_every_other_node_that_has_a_cidr_and_an_address() -> None:
    nodes = [
        node("n1", "10.244.0.0/24", "172.20.0.2"),
        node("n2", "10.244.1.0/24", "172.20.0.3"),
        node("n3", None, "172.20.0.4"),
        node("n4", "10.244.3.0/24", None),
    ]
    assert desired_routes(nodes, "n1") == {"10.244.1.0/24": "172.20.0.3"}


IP_ROUTE = """default via 172.20.0.1 dev eth0
10.244.0.0/24 dev docker0 proto kernel scope link src 10.244.0.1
unreachable 10.244.0.0/16
10.244.1.0/24 via 172.20.0.3 dev eth0
10.244.2.0/24 via 172.20.0.9 dev eth0
192.168.1.0/24 via 172.20.0.1 dev eth0
172.20.0.0/16 dev eth0 proto kernel scope link src 172.20.0.2
"""


def test_only_gateway_routes_inside_the_cluster_cidr_are_ours() -> None:
    assert parse_routes(IP_ROUTE, "10.244.0.0/16") == {
        "10.244.1.0/24": "172.20.0.3",
        "10.244.2.0/24": "172.20.0.9",
    }


def test_plan_replaces_what_moved_and_deletes_what_is_gone() -> None:
    current = {"10.244.1.0/24": "172.20.0.3", "10.244.2.0/24": "172.20.0.9"}
    wanted = {"10.244.1.0/24": "172.20.0.3", "10.244.3.0/24": "172.20.0.5"}
    assert plan(current, wanted) == (["10.244.3.0/24 via 172.20.0.5"], ["10.244.2.0/24"])
    assert plan(wanted, wanted) == ([], [])
