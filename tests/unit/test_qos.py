"""status.qosClass as Kubernetes' ComputePodQOS decides it, init containers and sidecars
included."""

from __future__ import annotations

from typing import Any

import pytest

from common.qos import get_pod_qos, qos_class

GUARANTEED = {"limits": {"cpu": "1", "memory": "64Mi"}}


def pod(
    containers: list[dict[str, Any]], inits: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(containers)]
    }
    if inits:
        spec["initContainers"] = [{"name": f"i{i}", "resources": r} for i, r in enumerate(inits)]
    return {"spec": spec}


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ({}, "BestEffort"),
        ({"requests": {"cpu": "100m"}}, "Burstable"),
        (GUARANTEED, "Guaranteed"),
        ({"limits": {"cpu": "1", "memory": "64Mi"}, "requests": {"cpu": "500m"}}, "Burstable"),
        ({"limits": {"cpu": "1000m", "memory": "64Mi"}, "requests": {"cpu": "1"}}, "Guaranteed"),
        ({"limits": {"cpu": "1"}}, "Burstable"),  # memory unlimited
        ({"requests": {"cpu": "0", "memory": "0"}}, "BestEffort"),  # zero amounts do not count
        ({"requests": {"ephemeral-storage": "1Gi"}}, "BestEffort"),  # only cpu and memory count
        ({"limits": {**GUARANTEED["limits"], "ephemeral-storage": "1Gi"}}, "Guaranteed"),
    ],
)
def test_one_container(resources: dict[str, Any], qos: str) -> None:
    assert qos_class(pod([resources])) == qos


def test_an_init_container_with_requests_makes_a_best_effort_pod_burstable() -> None:
    assert qos_class(pod([{}], [{"requests": {"memory": "16Mi"}}])) == "Burstable"


def test_an_init_container_without_limits_breaks_guaranteed() -> None:
    assert qos_class(pod([GUARANTEED], [{}])) == "Burstable"
    assert qos_class(pod([GUARANTEED], [{"requests": {"cpu": "1"}}])) == "Burstable"


def test_guaranteed_app_and_init_containers() -> None:
    other = {"limits": {"cpu": "250m", "memory": "1Gi"}, "requests": {"cpu": "250m"}}
    assert qos_class(pod([GUARANTEED, other], [GUARANTEED])) == "Guaranteed"


def test_a_sidecar_counts_as_an_init_container() -> None:
    p = pod([GUARANTEED], [{"requests": {"cpu": "10m"}}])
    p["spec"]["initContainers"][0]["restartPolicy"] = "Always"
    assert qos_class(p) == "Burstable"


def test_ephemeral_containers_do_not_count() -> None:
    p = pod([GUARANTEED])
    p["spec"]["ephemeralContainers"] = [{"name": "debug", "resources": {}}]
    assert qos_class(p) == "Guaranteed"


def test_the_summed_requests_are_compared_with_the_summed_limits() -> None:
    # Per container equal, so the sums are equal too: requests defaulted from the limits.
    a = {"limits": {"cpu": "1", "memory": "64Mi"}, "requests": {"cpu": "1", "memory": "64Mi"}}
    b = {"limits": {"cpu": "500m", "memory": "32Mi"}}
    assert qos_class(pod([a, b])) == "Guaranteed"


def test_get_pod_qos_keeps_the_class_of_the_status() -> None:
    p = pod([GUARANTEED])
    assert get_pod_qos(p) == "Guaranteed"
    p["status"] = {"qosClass": "Burstable"}
    assert get_pod_qos(p) == "Burstable"
