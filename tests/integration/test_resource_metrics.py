"""metrics.k8s.io through the whole path: the agent loop (FakeRuntime, whose pretend containers
report what the test sets) reads its node and containers every interval, and the real API server
asks the node's agent when ``kubectl top`` lists NodeMetrics and PodMetrics."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from agent.fake_runtime import FakeRuntime
from agent.loop import Agent
from common.client import ApiClient
from tests.integration import test_agent_api as agent_api
from tests.integration.conftest import Api, wait_for
from tests.integration.test_agent_api import apps, running, web_pod

# The agent's fixtures: a FakeRuntime and the agent loop against the app served over HTTP.
runtime = agent_api.runtime
start_agent = agent_api.start_agent

METRICS = "/apis/metrics.k8s.io/v1beta1"
PODS = "/api/v1/namespaces/default/pods"


def busy(fake: FakeRuntime, cid: str, stop: threading.Event) -> None:
    """Let the pretend container use CPU: its counter grows by 20 ms every 10 ms."""
    used = 0.0
    while not stop.wait(0.01):
        used += 0.02
        fake.usages[cid] = (used, 5 * 2**20)


def test_top_nodes_and_pods(
    api: Api, admin: ApiClient, runtime: FakeRuntime, start_agent: Callable[..., Agent]
) -> None:
    code, listing = api.call("GET", f"{METRICS}/nodes")
    assert (code, listing["kind"], listing["items"]) == (200, "NodeMetricsList", [])
    start_agent(resource_metrics_interval=0.3)
    assert api.call("POST", PODS, web_pod())[0] == 201
    assert wait_for(lambda: running(admin), 20)
    (container,) = apps(runtime)
    stop = threading.Event()
    threading.Thread(target=busy, args=(runtime, container.id, stop), daemon=True).start()
    try:

        def measured() -> dict[str, Any] | None:
            code, found = api.call("GET", f"{PODS.replace('/api/v1', METRICS)}/web")
            used = code == 200 and found["containers"][0]["usage"]["cpu"] != "0n"
            return found if used else None

        assert wait_for(lambda: measured() is not None, 20)
        found = measured()
        assert found is not None
        assert found["kind"] == "PodMetrics" and found["metadata"]["namespace"] == "default"
        (usage,) = found["containers"]
        assert usage["name"] == "main" and usage["usage"]["memory"] == "5120Ki"
        assert usage["usage"]["cpu"].endswith("n") and int(usage["usage"]["cpu"][:-1]) > 0
    finally:
        stop.set()

    code, nodes = api.call("GET", f"{METRICS}/nodes")
    (node,) = nodes["items"]
    assert node["metadata"]["name"] == "node-1" and node["window"].endswith("s")
    assert set(node["usage"]) == {"cpu", "memory"}
    code, pods = api.call("GET", f"{METRICS}/pods", labelSelector="app=web")
    assert [p["metadata"]["name"] for p in pods["items"]] == ["web"]
    code, pods = api.call("GET", f"{METRICS}/pods", labelSelector="app=other")
    assert pods["items"] == []


def test_missing_objects_and_rights(api: Api, node_api: Api) -> None:
    code, status = api.call("GET", f"{METRICS}/namespaces/default/pods/nosuch")
    assert (code, status["message"]) == (404, 'pods "nosuch" not found')
    code, status = api.call("GET", f"{METRICS}/nodes/nosuch")
    assert (code, status["message"]) == (404, 'nodes "nosuch" not found')
    api.call("POST", PODS, web_pod("idle"))
    code, status = api.call("GET", f"{METRICS}/namespaces/default/pods/idle")
    assert (code, status["message"]) == (404, 'pods.metrics.k8s.io "default/idle" not found')
    code, status = node_api.call("GET", f"{METRICS}/pods")
    assert code == 403, status
    code, listing = api.call("GET", "/apis/metrics.k8s.io/v1beta1")
    kinds = {r["name"]: (r["kind"], r["namespaced"], r["verbs"]) for r in listing["resources"]}
    assert kinds == {"nodes": ("NodeMetrics", False, ["get", "list"]),
                     "pods": ("PodMetrics", True, ["get", "list"])}  # fmt: skip
