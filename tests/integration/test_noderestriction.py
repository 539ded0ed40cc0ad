"""NodeRestriction over HTTP on the real app and Redis: a node's token may keep its own Node
current (annotations, status) but not change its taints, reserved labels or pod CIDR, nor write
another node; an admin may do all of it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Api

NODES = "/api/v1/nodes"
MERGE = "application/merge-patch+json"
ADMIN_TAINT = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}


def node_body(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, "tinykube.io/node": "true"},
            "annotations": {"tinykube.io/node-api": "https://127.0.0.1:10250"},
        },
        "spec": spec,
    }


@pytest.fixture
def registered(api: Api, node_api: Api) -> dict[str, Any]:
    """node-1 registered by its own token, then tainted by an admin; node-2 by an admin."""
    assert node_api.call("POST", NODES, node_body("node-1"))[0] == 201
    assert api.call("POST", NODES, node_body("node-2"))[0] == 201
    patch = {"spec": {"taints": [ADMIN_TAINT]}}
    code, stored = api.call("PATCH", f"{NODES}/node-1", patch, content_type=MERGE)
    assert code == 200, stored
    return dict(stored)


def refused(call: tuple[int, Any], message: str, name: str = "node-1") -> None:
    code, status = call
    assert code == 403, status
    assert status["kind"] == "Status" and status["reason"] == "Forbidden"
    assert status["message"] == f'nodes "{name}" is forbidden: {message}'
    assert status["details"] == {"name": name, "kind": "nodes"}


def unchanged(api: Api, stored: dict[str, Any]) -> None:
    """Nothing was written by a refused request."""
    now = api.call("GET", f"{NODES}/{stored['metadata']['name']}")[1]
    assert now["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]


def test_node_may_not_remove_an_admins_taint(
    api: Api, node_api: Api, registered: dict[str, Any]
) -> None:
    patch = {"spec": {"taints": None}}
    call = node_api.call("PATCH", f"{NODES}/node-1", patch, content_type=MERGE)
    refused(call, 'node "node-1" is not allowed to modify taints')
    body = {**registered, "spec": {**registered["spec"], "taints": []}}
    refused(node_api.call("PUT", f"{NODES}/node-1", body),
            'node "node-1" is not allowed to modify taints')  # fmt: skip
    unchanged(api, registered)
    assert api.call("PATCH", f"{NODES}/node-1", patch, content_type=MERGE)[0] == 200


def test_node_may_not_set_reserved_labels(
    api: Api, node_api: Api, registered: dict[str, Any]
) -> None:
    for key in ("node-role.kubernetes.io/control-plane", "node-restriction.kubernetes.io/trusted"):
        patch = {"metadata": {"labels": {key: ""}}}
        call = node_api.call("PATCH", f"{NODES}/node-1", patch, content_type=MERGE)
        refused(call, f"is not allowed to modify labels: {key}")
    unchanged(api, registered)
    role = {"metadata": {"labels": {"node-role.kubernetes.io/db": ""}}}
    assert api.call("PATCH", f"{NODES}/node-1", role, content_type=MERGE)[0] == 200
    # Nor remove one an admin set; the labels a kubelet sets stay its own.
    drop = {"metadata": {"labels": {"node-role.kubernetes.io/db": None}}}
    call = node_api.call("PATCH", f"{NODES}/node-1", drop, content_type=MERGE)
    refused(call, "is not allowed to modify labels: node-role.kubernetes.io/db")
    own = {"metadata": {"labels": {"kubernetes.io/arch": "arm64", "tinykube.io/disk": "ssd"}}}
    assert node_api.call("PATCH", f"{NODES}/node-1", own, content_type=MERGE)[0] == 200


def test_node_may_not_set_its_pod_cidr(api: Api, node_api: Api, registered: dict[str, Any]) -> None:
    patch = {"spec": {"podCIDR": "10.244.9.0/24", "podCIDRs": ["10.244.9.0/24"]}}
    call = node_api.call("PATCH", f"{NODES}/node-1", patch, content_type=MERGE)
    refused(call, 'node "node-1" is not allowed to modify spec.podCIDR')
    unchanged(api, registered)
    assert api.call("PATCH", f"{NODES}/node-1", patch, content_type=MERGE)[0] == 200


def test_node_keeps_its_annotations_and_status_writable(
    api: Api, node_api: Api, registered: dict[str, Any]
) -> None:
    patch = {"metadata": {"annotations": {"tinykube.io/node-api": "https://10.0.0.5:10250"}}}
    code, node = node_api.call("PATCH", f"{NODES}/node-1", patch, content_type=MERGE)
    assert code == 200, node
    assert node["metadata"]["annotations"]["tinykube.io/node-api"] == "https://10.0.0.5:10250"
    # A status write carrying other taints changes only the status: it is not refused.
    status = {**node, "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    code, written = node_api.call("PUT", f"{NODES}/node-1/status", status)
    assert code == 200, written
    assert written["spec"]["taints"] == [ADMIN_TAINT]


def test_node_may_not_write_another_node(
    api: Api, node_api: Api, registered: dict[str, Any]
) -> None:
    message = 'node "node-1" is not allowed to modify node "node-2"'
    patch = {"metadata": {"annotations": {"x": "y"}}}
    call = node_api.call("PATCH", f"{NODES}/node-2", patch, content_type=MERGE)
    refused(call, message, "node-2")
    status = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    call = node_api.call("PATCH", f"{NODES}/node-2/status", status, content_type=MERGE)
    refused(call, message, "node-2")
    refused(node_api.call("POST", NODES, node_body("node-3")),
            'node "node-1" is not allowed to modify node "node-3"', "node-3")  # fmt: skip
    assert api.call("GET", f"{NODES}/node-3")[0] == 404
    assert node_api.call("DELETE", f"{NODES}/node-2")[0] == 403
    assert node_api.call("DELETE", f"{NODES}/node-1")[0] == 403


def test_node_registers_with_taints_but_not_reserved_labels(api: Api, node_api: Api) -> None:
    body = node_body("node-1", taints=[ADMIN_TAINT])
    body["metadata"]["labels"]["node-role.kubernetes.io/worker"] = ""
    refused(node_api.call("POST", NODES, body), 'node "node-1" is not allowed to set the '
            "following labels: node-role.kubernetes.io/worker")  # fmt: skip
    del body["metadata"]["labels"]["node-role.kubernetes.io/worker"]
    code, node = node_api.call("POST", NODES, body)
    assert code == 201, node
    assert node["spec"]["taints"] == [ADMIN_TAINT]


def test_node_writes_only_the_status_of_its_own_pods(api: Api, node_api: Api) -> None:
    pods = "/api/v1/namespaces/default/pods"
    for name, where in (("mine", "node-1"), ("theirs", "node-2")):
        spec = {"nodeName": where, "containers": [{"name": "c", "image": "i:1"}]}
        body = {"metadata": {"name": name, "labels": {"app": name}}, "spec": spec}
        assert api.call("POST", pods, body)[0] == 201
    mine = api.call("GET", f"{pods}/mine")[1]
    # Not the spec or labels of its own pod, not even through its status.
    assert node_api.call("PUT", f"{pods}/mine", mine)[0] == 403
    relabel = {"metadata": {"labels": {"app": "other"}}}
    assert node_api.call("PATCH", f"{pods}/mine", relabel, content_type=MERGE)[0] == 403
    relabel["status"] = {"phase": "Running"}
    code, pod = node_api.call("PATCH", f"{pods}/mine/status", relabel, content_type=MERGE)
    assert code == 200 and pod["metadata"]["labels"] == {"app": "mine"}
    # Not another node's pod, even one being deleted.
    assert api.call("DELETE", f"{pods}/theirs")[0] == 200
    assert node_api.call("DELETE", f"{pods}/theirs", {"gracePeriodSeconds": 0})[0] == 403
    assert api.call("GET", f"{pods}/theirs")[0] == 200


def test_a_stale_write_of_a_node_is_a_conflict_not_a_refusal(api: Api, node_api: Api) -> None:
    """The agent re-reads its Node after a 409; a taint added since it read must not turn its
    write into a 403, nor be lost by a write without a resourceVersion."""
    assert node_api.call("POST", NODES, node_body("node-1"))[0] == 201
    read = node_api.call("GET", f"{NODES}/node-1")[1]
    patch = {"spec": {"taints": [ADMIN_TAINT]}}
    assert api.call("PATCH", f"{NODES}/node-1", patch, content_type=MERGE)[0] == 200
    read["metadata"]["annotations"]["tinykube.io/node-api"] = "https://10.0.0.5:10250"
    code, status = node_api.call("PUT", f"{NODES}/node-1", read)
    assert code == 409 and status["reason"] == "Conflict", status
    del read["metadata"]["resourceVersion"]
    refused(node_api.call("PUT", f"{NODES}/node-1", read),
            'node "node-1" is not allowed to modify taints')  # fmt: skip
    assert api.call("GET", f"{NODES}/node-1")[1]["spec"]["taints"] == [ADMIN_TAINT]
