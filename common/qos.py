"""A pod's quality-of-service class (``status.qosClass``) as Kubernetes' ComputePodQOS decides it:
the requests and limits of every app and init container (sidecars included), cpu and memory
only, zero amounts ignored. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from common.quantity import parse_quantity

QOS_RESOURCES = ("cpu", "memory")


def _positive(resources: Mapping[str, Any]) -> dict[str, Decimal]:
    """The cpu and memory amounts above zero (unparsable ones are left out: validation's job)."""
    out: dict[str, Decimal] = {}
    for name in QOS_RESOURCES:
        if name not in resources:
            continue
        try:
            amount = parse_quantity(resources[name])
        except (TypeError, ValueError):
            continue
        if amount > 0:
            out[name] = amount
    return out


def _add(total: dict[str, Decimal], amounts: Mapping[str, Decimal]) -> None:
    for name, amount in amounts.items():
        total[name] = total.get(name, Decimal(0)) + amount


def _containers(spec: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    # Ephemeral containers cannot set resources: they do not count.
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            if isinstance(c, Mapping):
                yield c


def qos_class(pod: Mapping[str, Any]) -> str:
    """Guaranteed, Burstable or BestEffort: Guaranteed when every container limits both cpu and
    memory and the summed requests equal the summed limits; BestEffort when nothing is set."""
    spec = pod.get("spec") or {}
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for c in _containers(spec):
        res = c.get("resources") or {}
        lim = res.get("limits") or {}
        # Requests default to the limits (SetDefaults_Pod), for pods stored before defaulting.
        req = {**lim, **(res.get("requests") or {})}
        _add(requests, _positive(req))
        found = _positive(lim)
        _add(limits, found)
        if not all(name in found for name in QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    equal = all(limits.get(name) == amount for name, amount in requests.items())
    return "Guaranteed" if guaranteed and equal and len(requests) == len(limits) else "Burstable"


def get_pod_qos(pod: Mapping[str, Any]) -> str:
    """The class kept in ``status.qosClass`` (set once at creation), else the computed one, as
    Kubernetes' GetPodQOS: a later change of resources does not move a pod between classes."""
    kept = (pod.get("status") or {}).get("qosClass")
    return str(kept) if kept else qos_class(pod)
