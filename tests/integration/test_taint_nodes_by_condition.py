"""TaintNodesByCondition over the real registry and Redis: a Node is created with the not-ready
NoSchedule taint (once, whatever the client sent), the scheduler sends it no pod while the node
has not reported Ready, and the node lifecycle controller takes the taint off when it does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.redis_store import RedisStore
from control.registry.registry import Registry
from tests.integration.conftest import Api
from tests.integration.schedpass import schedule_pending
from tests.integration.test_node_lifecycle import (
    LEASE_NAMESPACE,
    LEASES,
    NODES,
    PODS,
    Clock,
    Driver,
    micro,
    new_pod,
    taints,
)

TOKEN = "admin-token"
NOT_READY = ("node.kubernetes.io/not-ready", "NoSchedule")


@pytest.fixture
def app(store: RedisStore) -> Any:
    auth = TokenAuthenticator({TOKEN: User("admin", ("system:masters",))})
    application = create_app(store, auth, ServerConfig(watch_poll=0.2, taint_new_nodes=True))
    application.extensions["tinykube"]["registry"].ensure_namespaces()
    return application


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_a_new_node_is_created_with_the_not_ready_taint(app: Any) -> None:
    api = Api(app.test_client(), TOKEN)
    code, node = api.call("POST", "/api/v1/nodes", {"metadata": {"name": "n1"}})
    assert code == 201
    assert node["spec"]["taints"] == [{"key": NOT_READY[0], "effect": "NoSchedule"}]
    own = [{"key": "dedicated", "value": "db", "effect": "NoSchedule"},
           {"key": NOT_READY[0], "effect": "NoSchedule"}]  # fmt: skip
    code, node = api.call("POST", "/api/v1/nodes",
                          {"metadata": {"name": "n2"}, "spec": {"taints": own}})  # fmt: skip
    assert code == 201 and node["spec"]["taints"] == own
    # Only a create is admitted so: the taint taken off stays off.
    node["spec"]["taints"] = own[:1]
    code, node = api.call("PUT", "/api/v1/nodes/n2", node)
    assert code == 200 and node["spec"]["taints"] == own[:1]
    # A body of the wrong shape is refused and nothing is stored.
    for bad in (1, [1], "x"):
        code, _ = api.call("POST", "/api/v1/nodes",
                           {"metadata": {"name": "n3"}, "spec": {"taints": bad}})  # fmt: skip
        assert code == 400
        assert api.call("GET", "/api/v1/nodes/n3")[0] == 404


def test_a_node_gets_pods_once_it_reports_ready(app: Any, stop: threading.Event) -> None:
    reg: Registry = app.extensions["tinykube"]["registry"]
    clock = Clock()
    reg.create(NODES, "", {"metadata": {"name": "n1"}})
    reg.create(LEASES, LEASE_NAMESPACE, {"metadata": {"name": "n1"},
                                         "spec": {"holderIdentity": "n1",
                                                  "renewTime": micro(clock.now)}})  # fmt: skip
    ctl = Driver(reg, clock, stop)
    new_pod(reg, "web")
    ctl.monitor()
    assert taints(reg, "n1") == [NOT_READY]  # nothing reported yet: the taint stays
    assert schedule_pending(reg) == 0
    pod = reg.get(PODS, "default", "web")
    [scheduled] = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert scheduled["message"].startswith(
        "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }."
    )
    node = reg.get(NODES, "", "n1")
    node["status"] = {
        "allocatable": {"cpu": "2", "memory": "2Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
    }
    reg.replace(NODES, "", "n1", node, sub="status")
    ctl.monitor()
    assert taints(reg, "n1") == []
    assert schedule_pending(reg) == 1
    assert reg.get(PODS, "default", "web")["spec"]["nodeName"] == "n1"
