"""The endpoint controllers as the control plane runs them: ``default_loops`` in the Manager's
threads beside the workload controllers, a FAKE kubelet marking pods Ready (every pod gets the
same IP there: endpoints are told apart by their pod)."""

from __future__ import annotations

from typing import Any

from common import errors
from common.resources import must
from control.registry.registry import Registry
from tests.integration.appsfake import DEPLOYS
from tests.integration.test_workloads import deployment
from tests.integration.test_workloads_manager import running, wait_for

__all__ = ["running"]  # the fixture, shared

SERVICES, SLICES, ENDPOINTS = must("services"), must("endpointslices"), must("endpoints")


def ready_pods(registry: Registry) -> list[str]:
    slices = registry.list(SLICES, "default", label_selector="kubernetes.io/service-name=web")
    return sorted(
        e["targetRef"]["name"]
        for s in slices["items"]
        for e in s["endpoints"]
        if e["conditions"]["ready"]
    )


def slice_count(registry: Registry) -> int:
    found = registry.list(SLICES, "default", label_selector="kubernetes.io/service-name=web")
    return len(found["items"])


def endpoint_count(registry: Registry) -> int:
    ep: Any = registry.get(ENDPOINTS, "default", "web")
    return sum(len(s.get("addresses") or []) for s in ep.get("subsets") or [])


def scale_to_zero(registry: Registry) -> None:
    for _ in range(50):  # the Deployment controller writes its status meanwhile
        d = registry.get(DEPLOYS, "default", "web")
        d["spec"]["replicas"] = 0
        try:
            registry.replace(DEPLOYS, "default", "web", d)
            return
        except errors.ConflictError:
            continue
    raise AssertionError("the Deployment could not be scaled")


def test_a_service_follows_its_deployment(running: Registry) -> None:
    reg = running
    reg.create(SERVICES, "default", {"metadata": {"name": "web"},
                                     "spec": {"selector": {"app": "web"},
                                              "ports": [{"port": 80}]}})  # fmt: skip
    reg.create(DEPLOYS, "default", deployment(replicas=3))
    wait_for(lambda: len(ready_pods(reg)) == 3, "three ready endpoints")
    assert slice_count(reg) == 1  # never a second slice made from a stale cache
    wait_for(lambda: endpoint_count(reg) == 3, "three Endpoints addresses")
    scale_to_zero(reg)
    wait_for(lambda: ready_pods(reg) == [] and slice_count(reg) == 1, "an empty placeholder")
    reg.delete(SERVICES, "default", "web", {})
    wait_for(lambda: slice_count(reg) == 0, "the slices collected with their Service")
