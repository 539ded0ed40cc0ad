"""The Service strategy: SetDefaults_Service, the ClusterIP fields kept in step, the values a
type change no longer needs wiped, the ClusterIP and node ports allocated and held as store
claims (``control.registry.allocation``), kube-apiserver's warnings. Registers itself in
``strategies.STRATEGIES``. Pure: objects in, objects out (the taken values are given).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Container

from common import errors
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


STRATEGIES[("", "services")] = ServiceStrategy()
