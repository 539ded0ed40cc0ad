"""What a Service holds from the cluster's finite pools, as kube-apiserver's allocators hand it
out: ClusterIPs from ``--service-cluster-ip-range`` and node ports from
``--service-node-port-range``. Requested values are checked against the ranges with the
allocators' messages; missing ones are picked at random from the upper band of the range first
(the lower band is kept for static choices, as Kubernetes' ServiceIPStaticSubrange and
ServiceNodePortStaticSubrange do), skipping the values the store says are taken. Each value
becomes a store claim (``serviceips:10.96.0.10``, ``nodeports:30080``), written atomically with
the Service, which is what makes two API processes never hand out one value twice. Pure: the
taken values and the random source are given.
"""

from __future__ import annotations

import ipaddress
import itertools
import random
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from typing import Any

from common import errors
from common.errors import Cause
from common.fielderrors import invalid
from common.services import LOAD_BALANCER, NONE, is_headless, needs_cluster_ip, needs_node_ports
from control.validation import invalid_error

IP_POOL = "serviceips"
PORT_POOL = "nodeports"
DEFAULT_CLUSTER_IP_RANGE = "10.96.0.0/12"
DEFAULT_NODE_PORT_RANGE = (30000, 32767)
# The kube-dns Service's address: the tenth of the range, as kubeadm and k3s choose it.
DNS_IP_INDEX = 10

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Obj = dict[str, Any]
# The values of a pool that are taken, by pool name.
Taken = Callable[[str], Container[str]]


@dataclass(frozen=True)
class ServiceRanges:
    """The ranges Services' ClusterIPs and node ports come from."""

    cluster_ips: Network = field(
        default_factory=lambda: ipaddress.ip_network(DEFAULT_CLUSTER_IP_RANGE)
    )
    node_ports: tuple[int, int] = DEFAULT_NODE_PORT_RANGE  # inclusive

    @property
    def ip_count(self) -> int:
        """Addresses handed out: all but the network address (and IPv4's broadcast)."""
        reserved = 2 if self.cluster_ips.version == 4 else 1
        return max(0, self.cluster_ips.num_addresses - reserved)

    def ip_at(self, index: int) -> str:
        return str(self.cluster_ips.network_address + 1 + index)

    def ip_index(self, ip: str) -> int | None:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if addr.version != self.cluster_ips.version:
            return None
        index = int(addr) - int(self.cluster_ips.network_address) - 1
        return index if 0 <= index < self.ip_count else None

    @property
    def port_count(self) -> int:
        return self.node_ports[1] - self.node_ports[0] + 1

    def port_range(self) -> str:
        return f"{self.node_ports[0]}-{self.node_ports[1]}"

    def kubernetes_ip(self) -> str:
        """The ``kubernetes`` Service's address: the first of the range."""
        return self.ip_at(0)

    def dns_ip(self) -> str:
        return self.ip_at(DNS_IP_INDEX - 1)


def parse_node_port_range(text: str) -> tuple[int, int]:
    """``30000-32767`` (or ``30000+2767``, as kube-apiserver's PortRange takes it)."""
    try:
        if "+" in text:
            base, extra = text.split("+", 1)
            lo, hi = int(base), int(base) + int(extra)
        else:
            first, last = text.split("-", 1)
            lo, hi = int(first), int(last)
    except ValueError:
        raise ValueError(f"invalid port range {text!r}: expected FIRST-LAST") from None
    if not 0 < lo <= hi <= 65535:
        raise ValueError(f"invalid port range {text!r}")
    return lo, hi


def parse_cluster_ip_range(text: str) -> Network:
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as e:
        raise ValueError(f"invalid service cluster IP range {text!r}: {e}") from None
    if net.num_addresses < 8:
        raise ValueError(f"service cluster IP range {text!r} is too small")
    return net


def _band(size: int, low: int, high: int, step: int) -> int:
    """calculateRangeOffset: how much of the bottom of a range is kept for static choices."""
    if size < low:
        return 0
    return min(max(low, size // step), high)


def pick_index(size: int, offset: int, taken: Container[int], rng: random.Random) -> int | None:
    """A free index, from a random start in [offset, size) first, then in [0, offset)."""
    for lo, hi in ((offset, size), (0, offset)):
        if hi <= lo:
            continue
        start = rng.randrange(lo, hi)
        for i in itertools.chain(range(start, hi), range(lo, start)):
            if i not in taken:
                return i
    return None


class _TakenIndexes:
    """The taken values of a pool seen as indexes, without building a set of the range."""

    def __init__(self, taken: Container[str], value: Callable[[int], str]) -> None:
        self.taken, self.value = taken, value

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and self.value(index) in self.taken


def ip_claim(ip: str) -> str:
    return f"{IP_POOL}:{ip}"


def port_claim(port: int) -> str:
    return f"{PORT_POOL}:{port}"


def _spec(svc: Mapping[str, Any]) -> Any:
    spec = svc.get("spec")
    return spec if isinstance(spec, dict) else {}


def _ports(svc: Mapping[str, Any]) -> list[Obj]:
    return [p for p in _spec(svc).get("ports") or [] if isinstance(p, dict)]


def claims_of(svc: Mapping[str, Any]) -> list[str]:
    """The pool values a Service holds: its ClusterIPs, node ports and health check port."""
    spec = _spec(svc)
    out = [ip_claim(str(ip)) for ip in spec.get("clusterIPs") or [] if ip and ip != NONE]
    out += [port_claim(int(p["nodePort"])) for p in _ports(svc) if p.get("nodePort")]
    if spec.get("healthCheckNodePort"):
        out.append(port_claim(int(spec["healthCheckNodePort"])))
    return list(dict.fromkeys(out))


def needs_health_check(svc: Mapping[str, Any]) -> bool:
    spec = _spec(svc)
    return bool(spec.get("type") == LOAD_BALANCER and spec.get("externalTrafficPolicy") == "Local")


def range_causes(svc: Mapping[str, Any], new: Container[str], ranges: ServiceRanges) -> list[Cause]:
    """The requested values (claims in ``new``) outside the ranges, in the allocators' words."""
    spec, causes = _spec(svc), []
    ips = [str(ip) for ip in spec.get("clusterIPs") or []]
    for ip in ips:
        # A malformed IP is validation's to report; an IP the Service held before stays.
        if not _is_ip(ip) or ip_claim(ip) not in new or ranges.ip_index(ip) is not None:
            continue
        causes.append(
            invalid("spec.clusterIPs", ips,
                    f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid "
                    f"range. The range of valid IPs is {ranges.cluster_ips}")
        )  # fmt: skip
    message = (
        f"provided port is not in the valid range. The range of valid ports is "
        f"{ranges.port_range()}"
    )
    lo, hi = ranges.node_ports
    for i, port in enumerate(_ports(svc)):
        n = port.get("nodePort") or 0
        if n and port_claim(n) in new and not lo <= n <= hi:
            causes.append(invalid(f"spec.ports[{i}].nodePort", n, message))
    health = spec.get("healthCheckNodePort") or 0
    if health and port_claim(health) in new and not lo <= health <= hi:
        causes.append(
            invalid("spec.healthCheckNodePort", health,
                    f"failed to allocate requested HealthCheck NodePort {health}: {message}")
        )  # fmt: skip
    return causes


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def taken_error(svc: Mapping[str, Any], claim: str) -> errors.InvalidError:
    """The 422 of a requested value another Service holds."""
    name = str((svc.get("metadata") or {}).get("name", ""))
    pool, _, value = claim.partition(":")
    spec = _spec(svc)
    causes: list[Cause] = []
    if pool == IP_POOL:
        ips = [str(ip) for ip in spec.get("clusterIPs") or []]
        causes.append(
            invalid("spec.clusterIPs", ips,
                    f"failed to allocate IP {value}: provided IP is already allocated")
        )  # fmt: skip
    elif int(value) == spec.get("healthCheckNodePort"):
        causes.append(
            invalid("spec.healthCheckNodePort", int(value),
                    f"failed to allocate requested HealthCheck NodePort {value}: provided port "
                    "is already allocated")
        )  # fmt: skip
    else:
        index = next(i for i, p in enumerate(_ports(svc)) if str(p.get("nodePort")) == value)
        causes.append(
            invalid(f"spec.ports[{index}].nodePort", int(value),
                    "provided port is already allocated")
        )  # fmt: skip
    return invalid_error("Service", name, causes)


def fill(svc: Obj, ranges: ServiceRanges, taken: Taken, rng: random.Random) -> None:
    """Pick the ClusterIP and the node ports a Service lacks (in place)."""
    spec = svc.setdefault("spec", {})
    if needs_cluster_ip(svc) and not spec.get("clusterIP") and not is_headless(svc):
        ips = _TakenIndexes(taken(IP_POOL), ranges.ip_at)
        offset = _band(ranges.ip_count, 16, 256, 16)
        index = pick_index(ranges.ip_count, offset, ips, rng)
        if index is None:
            raise errors.InternalError("failed to allocate a serviceIP: range is full")
        spec["clusterIP"] = ranges.ip_at(index)
        spec["clusterIPs"] = [spec["clusterIP"]]
    wants_ports = needs_node_ports(svc)
    health = needs_health_check(svc) and not spec.get("healthCheckNodePort")
    if not wants_ports and not health:
        return
    lo = ranges.node_ports[0]
    used = {int(p["nodePort"]) for p in _ports(svc) if p.get("nodePort")}
    free = _TakenIndexes(_Union(taken(PORT_POOL), {str(n) for n in used}), lambda i: str(lo + i))
    offset = _band(ranges.port_count, 16, 128, 32)

    def next_port() -> int:
        index = pick_index(ranges.port_count, offset, free, rng)
        if index is None:
            raise errors.InternalError("failed to allocate a nodePort: range is full")
        free.taken = _Union(free.taken, {str(lo + index)})
        return lo + index

    for port in _ports(svc) if wants_ports else []:
        if not port.get("nodePort"):
            port["nodePort"] = next_port()
    if health:
        spec["healthCheckNodePort"] = next_port()


class _Union:
    def __init__(self, *parts: Container[str]) -> None:
        self.parts = parts

    def __contains__(self, value: object) -> bool:
        return any(value in part for part in self.parts)
