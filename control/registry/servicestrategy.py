"""The Service strategy: SetDefaults_Service, the ClusterIP fields kept in step, the values a
type change no longer needs wiped, the ClusterIP and node ports allocated and held as store
claims (``control.registry.allocation``), kube-apiserver's warnings. Registers itself in
``strategies.STRATEGIES``. Pure: objects in, objects out (the taken values are given).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
from collections.abc import Callable, Container

from common import errors, names
from common.errors import Cause
from common.fielderrors import forbidden, invalid, not_supported
from common.resources import ResourceType
from common.services import (
    LOAD_BALANCER,
    default_ip_families,
    default_service,
    drop_type_dependent_fields,
    keep_allocated,
    normalize_cluster_ips,
    service_type,
)
from control.registry import allocation
from control.registry.strategies import STRATEGIES, Admission, Obj, Strategy
from control.validation import invalid_error


class ServiceStrategy(Strategy):
    """Services: SetDefaults_Service, the ClusterIP fields kept in step, the values a type
    change no longer needs wiped, and status (the load balancer's) only through ``/status``."""

    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        self.default(obj)
        normalize_cluster_ips(obj, None)
        default_ip_families(obj)
        obj["status"] = {"loadBalancer": {}}

    def prepare_update(self, rt: ResourceType, new: Obj, old: Obj) -> None:
        self.default(new)
        normalize_cluster_ips(new, old)
        drop_type_dependent_fields(new, old)
        keep_allocated(new, old)
        default_ip_families(new)
        super().prepare_update(rt, new, old)
        if service_type(new) != LOAD_BALANCER:
            new.setdefault("status", {})["loadBalancer"] = {}

    def default(self, obj: Obj) -> None:
        default_service(obj)

    holds_claims = True

    def allocate(
        self,
        obj: Obj,
        old: Obj | None,
        admission: Admission,
        taken: Callable[[str], Container[str]],
        rng: random.Random,
    ) -> set[str]:
        held = set(allocation.claims_of(old)) if old is not None else set()
        requested = set(allocation.claims_of(obj)) - held
        ranges = admission.service_ranges
        causes = allocation.family_causes(obj) or allocation.range_causes(obj, requested, ranges)
        if causes:
            raise invalid_error("Service", str(obj["metadata"].get("name", "")), causes)
        allocation.fill(obj, ranges, taken, rng)
        return requested

    def validate_status(self, new: Obj, old: Obj) -> list[Cause]:
        return validate_load_balancer_status(new)

    def claims(self, obj: Obj) -> list[str] | None:
        return allocation.claims_of(obj)

    def warnings(self, obj: Obj) -> list[str]:
        return service_warnings(obj)

    def claim_taken(self, obj: Obj, claim: str) -> errors.ApiError:
        return allocation.taken_error(obj, claim)


# Service fields tinykube stores but nothing acts on (ServiceLB advertises the nodes' addresses).
SERVICE_FIELDS_NOT_ACTED_ON = ("loadBalancerIP", "loadBalancerSourceRanges")


def service_warnings(svc: Obj) -> list[str]:
    """GetWarningsForService's type mismatches, then the fields tinykube does not act on."""
    spec = svc.get("spec") or {}
    kind = spec.get("type")
    out = []
    if kind == "ExternalName" and spec.get("externalIPs"):
        out.append('spec.externalIPs is ignored when spec.type is "ExternalName"')
    if kind != "ExternalName" and spec.get("externalName"):
        out.append('spec.externalName is ignored when spec.type is not "ExternalName"')
    out += [f"spec.{f}: tinykube stores this field but does not act on it yet"
            for f in SERVICE_FIELDS_NOT_ACTED_ON if spec.get(f)]  # fmt: skip
    return out


IP_MODES = ("Proxy", "VIP")


def validate_load_balancer_status(svc: Obj) -> list[Cause]:
    """ValidateLoadBalancerStatus, after defaulting an ingress IP's ipMode to VIP."""
    status = svc.get("status")
    lb = status.get("loadBalancer") if isinstance(status, dict) else None
    found = lb.get("ingress") if isinstance(lb, dict) else None
    ingress = [i for i in found or [] if isinstance(i, dict)]
    if ingress and service_type(svc) != LOAD_BALANCER:
        return [forbidden("status.loadBalancer.ingress",
                          "may only be used when `spec.type` is 'LoadBalancer'")]  # fmt: skip
    causes: list[Cause] = []
    for i, entry in enumerate(ingress):
        path = f"status.loadBalancer.ingress[{i}]"
        ip, hostname, mode = entry.get("ip") or "", entry.get("hostname") or "", entry.get("ipMode")
        if ip and mode is None:
            entry["ipMode"] = mode = "VIP"
        if ip and not _is_ip(ip):
            causes.append(invalid(f"{path}.ip", ip, allocation.IP_MESSAGE))
        if mode is not None and not ip:
            causes.append(forbidden(f"{path}.ipMode", "may not be specified when `ip` is not set"))
        elif mode is not None and mode not in IP_MODES:
            causes.append(not_supported(f"{path}.ipMode", mode, IP_MODES))
        if hostname:
            causes.extend(
                invalid(f"{path}.hostname", hostname, m)
                for m in names.is_dns1123_subdomain(hostname)
            )
            if _is_ip(hostname):
                causes.append(
                    invalid(f"{path}.hostname", hostname, "must be a DNS name, not an IP address")
                )
    return causes


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


STRATEGIES[("", "services")] = ServiceStrategy()
