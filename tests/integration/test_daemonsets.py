"""The DaemonSet controller over the real registry and Redis (the Flask app's), with registered
fake Nodes and a FAKE kubelet (tests/integration/appsfake.py) marking placed pods Ready: a pod
per node, one more for a new node, none on a node tainted against it, rolling updates within
``maxUnavailable``, ControllerRevisions and a rollback; and bad DaemonSets refused over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from common.wellknown import CONTROLLER_REVISION_HASH_LABEL
from control.controllers import daemonset_history as dh
from tests.integration.appsfake import NAMESPACES, NODES, PODS, ready_node
from tests.integration.conftest import Api
from tests.integration.daemonsfake import DAEMONSETS, REVISIONS, Daemons, daemonset


@pytest.fixture
def cluster(app: Any) -> Daemons:
    return Daemons(app.extensions["tinykube"]["registry"])


def test_a_pod_per_node_and_one_for_a_new_node(cluster: Daemons) -> None:
    cluster.registry.create(DAEMONSETS, "default", daemonset())
    cluster.settle(cluster.rolled_out)
    assert cluster.nodes_of() == ["n1", "n2", "n3"]
    pod = cluster.live()[0]
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"
    assert {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
            "effect": "NoExecute"} in pod["spec"]["tolerations"]  # fmt: skip
    assert cluster.status() == {
        "currentNumberScheduled": 3, "numberMisscheduled": 0, "desiredNumberScheduled": 3,
        "numberReady": 3, "updatedNumberScheduled": 3, "numberAvailable": 3,
        "observedGeneration": 1,
    }  # fmt: skip
    [revision] = cluster.items(REVISIONS)
    assert revision["revision"] == 1
    hash_ = revision["metadata"]["labels"][CONTROLLER_REVISION_HASH_LABEL]
    assert all(p["metadata"]["labels"][CONTROLLER_REVISION_HASH_LABEL] == hash_
               for p in cluster.live())  # fmt: skip
    cluster.registry.create(NODES, "", ready_node("n4"))
    cluster.settle(lambda: cluster.nodes_of() == ["n1", "n2", "n3", "n4"])
    cluster.settle(cluster.rolled_out)
    assert cluster.status()["desiredNumberScheduled"] == 4
    assert [r for r, _ in cluster.events("logs")].count("SuccessfulCreate") == 4


def _taint(cluster: Daemons, name: str, effect: str) -> None:
    node = cluster.registry.get(NODES, "", name)
    node["spec"]["taints"] = [{"key": "dedicated", "value": "db", "effect": effect}]
    cluster.registry.replace(NODES, "", name, node)


def test_a_tainted_node_loses_its_pod_and_a_selector_picks_nodes(cluster: Daemons) -> None:
    cluster.registry.create(DAEMONSETS, "default", daemonset())
    cluster.settle(cluster.rolled_out)
    _taint(cluster, "n2", "NoSchedule")  # keeps running, as Kubernetes
    cluster.round()
    cluster.round()
    assert cluster.nodes_of() == ["n1", "n2", "n3"]
    _taint(cluster, "n2", "NoExecute")
    cluster.settle(lambda: cluster.nodes_of() == ["n1", "n3"])
    cluster.settle(cluster.rolled_out)
    assert cluster.status()["desiredNumberScheduled"] == 2
    # Only labelled nodes: a node selector.
    node = cluster.registry.get(NODES, "", "n3")
    node["metadata"]["labels"] = {**node["metadata"].get("labels", {}), "logs": "yes"}
    cluster.registry.replace(NODES, "", "n3", node)
    selected = daemonset("picky")
    selected["spec"]["template"]["spec"]["nodeSelector"] = {"logs": "yes"}
    cluster.registry.create(DAEMONSETS, "default", selected)
    cluster.settle(lambda: cluster.rolled_out("picky"))
    picky = [p["spec"]["nodeName"] for p in cluster.items(PODS, selector="app=picky")]
    assert picky == ["n3"]


def test_a_deleted_node_loses_its_pod(cluster: Daemons) -> None:
    cluster.registry.create(DAEMONSETS, "default", daemonset())
    cluster.settle(cluster.rolled_out)
    cluster.registry.delete(NODES, "", "n3", {})
    cluster.settle(lambda: cluster.nodes_of() == ["n1", "n2"])
    cluster.settle(cluster.rolled_out)
    assert cluster.status()["desiredNumberScheduled"] == 2


def test_a_refused_pod_is_a_failed_create_event(cluster: Daemons) -> None:
    ns = cluster.registry.get(NAMESPACES, "", "default")
    ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "restricted"
    cluster.registry.replace(NAMESPACES, "", "default", ns)
    cluster.registry.create(DAEMONSETS, "default", daemonset())
    for _ in range(3):
        cluster.round()
    assert cluster.live() == []
    failed = [m for r, m in cluster.events("logs") if r == "FailedCreate"]
    assert failed and failed[0].startswith('Error creating: pods "logs-')
    assert "violates PodSecurity" in failed[0]
    assert cluster.status()["desiredNumberScheduled"] == 3
    assert cluster.status()["currentNumberScheduled"] == 0


def _update_image(cluster: Daemons, image: str, name: str = "logs") -> None:
    ds = cluster.registry.get(DAEMONSETS, "default", name)
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = image
    cluster.registry.replace(DAEMONSETS, "default", name, ds)


def test_rolling_update_respects_max_unavailable_and_undo(cluster: Daemons) -> None:
    cluster.registry.create(DAEMONSETS, "default", daemonset())
    cluster.settle(cluster.rolled_out)
    _update_image(cluster, "tinykube/web:1")
    seen_down = 0
    for _ in range(40):
        if cluster.rolled_out():
            break
        cluster.round()
        ready = [p for p in cluster.live() if p["status"].get("phase") == "Running"]
        seen_down = max(seen_down, 3 - len(ready))
        assert 3 - len(ready) <= 1, "more than maxUnavailable=1 nodes without a ready pod"
    assert cluster.rolled_out() and seen_down == 1
    assert cluster.nodes_of("tinykube/web:1") == ["n1", "n2", "n3"]
    revisions = sorted((r["revision"], r["metadata"]["name"]) for r in cluster.items(REVISIONS))
    assert [r for r, _ in revisions] == [1, 2]
    # Roll back as `rollout undo` does: revision 1's data patched onto the DaemonSet.
    first = cluster.registry.get(REVISIONS, "default", revisions[0][1])
    cluster.registry.patch(DAEMONSETS, "default", "logs", first["data"],
                           "application/strategic-merge-patch+json")  # fmt: skip
    cluster.settle(lambda: cluster.nodes_of("tinykube/sleeper:1") == ["n1", "n2", "n3"])
    cluster.settle(cluster.rolled_out)
    renumbered = cluster.registry.get(REVISIONS, "default", revisions[0][1])
    assert renumbered["revision"] == 3 and len(cluster.items(REVISIONS)) == 2


def test_surge_starts_the_new_pod_before_the_old_goes(cluster: Daemons) -> None:
    rolling = {"maxUnavailable": 0, "maxSurge": 1}
    strategy = {"type": "RollingUpdate", "rollingUpdate": rolling}
    cluster.registry.create(DAEMONSETS, "default", daemonset(updateStrategy=strategy))
    cluster.settle(cluster.rolled_out)
    _update_image(cluster, "tinykube/web:1")
    most = 0
    for _ in range(40):
        if cluster.rolled_out():
            break
        cluster.round()
        ready = [p for p in cluster.live() if p["status"].get("phase") == "Running"]
        most = max(most, len(cluster.live()))
        assert len({p["spec"]["nodeName"] for p in ready}) == 3, "a node without a ready pod"
    assert cluster.rolled_out() and most == 4
    assert cluster.nodes_of("tinykube/web:1") == ["n1", "n2", "n3"]


def test_on_delete_replaces_only_deleted_pods(cluster: Daemons) -> None:
    cluster.registry.create(DAEMONSETS, "default", daemonset(updateStrategy={"type": "OnDelete"}))
    cluster.settle(cluster.rolled_out)
    _update_image(cluster, "tinykube/web:1")
    for _ in range(3):
        cluster.round()
    assert cluster.nodes_of("tinykube/web:1") == []
    assert cluster.status().get("updatedNumberScheduled", 0) == 0
    victim = next(p for p in cluster.live() if p["spec"]["nodeName"] == "n1")
    cluster.registry.delete(PODS, "default", victim["metadata"]["name"], {})
    cluster.settle(lambda: cluster.nodes_of("tinykube/web:1") == ["n1"])
    assert cluster.nodes_of() == ["n1", "n2", "n3"]


DS_PATH = "/apis/apps/v1/namespaces/default/daemonsets"


def test_bad_daemonsets_are_refused_and_nothing_stored(api: Api) -> None:
    mismatch = daemonset()
    mismatch["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    status, body = api.call("POST", DS_PATH, mismatch)
    assert status == 422
    assert body["message"] == (
        'DaemonSet.apps "logs" is invalid: spec.template.metadata.labels: Invalid value: '
        '{"app":"logs"}: `selector` does not match template `labels`'
    )
    rolling = {"maxUnavailable": 1, "maxSurge": 1}
    both = daemonset(updateStrategy={"type": "RollingUpdate", "rollingUpdate": rolling})
    status, body = api.call("POST", DS_PATH, both)
    assert status == 422 and "may not be set when maxUnavailable is non-zero" in body["message"]
    status, body = api.call("POST", DS_PATH, {**daemonset(), "spec": {"replicas": 3}})
    assert status == 400 and 'unknown field "spec.replicas"' in body["message"]
    assert api.call("GET", DS_PATH)[1]["items"] == []
    status, created = api.call("POST", DS_PATH, daemonset())
    assert status == 201
    assert created["spec"]["updateStrategy"]["rollingUpdate"] == {"maxUnavailable": 1,
                                                                  "maxSurge": 0}  # fmt: skip
    assert created["metadata"]["annotations"] == {"deprecated.daemonset.template.generation": "1"}
    created["spec"]["selector"] = {"matchLabels": {"app": "logs", "x": "y"}}
    created["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    status, body = api.call("PUT", f"{DS_PATH}/logs", created)
    assert status == 422 and "spec.selector: Invalid value" in body["message"]
    assert "field is immutable" in body["message"]


def test_a_revision_name_taken_by_other_data_counts_a_collision(cluster: Daemons) -> None:
    created, _ = cluster.registry.create(DAEMONSETS, "default", daemonset())
    taken = dh.new_revision(created, 1)
    taken["data"] = {"spec": {"template": {"$patch": "replace"}}}
    taken["metadata"].pop("ownerReferences")
    cluster.registry.create(REVISIONS, "default", taken)
    cluster.settle(cluster.rolled_out)
    assert cluster.status()["collisionCount"] == 1
    names = {r["metadata"]["name"] for r in cluster.items(REVISIONS)}
    assert len(names) == 2 and taken["metadata"]["name"] in names
    adopted = cluster.get(REVISIONS, taken["metadata"]["name"])
    assert adopted is not None
    assert adopted["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]


def test_an_orphan_pod_it_selects_is_adopted_not_doubled(cluster: Daemons) -> None:
    container = {"name": "main", "image": "tinykube/sleeper:1"}
    orphan = {"metadata": {"name": "stray", "labels": {"app": "logs"}},
              "spec": {"nodeName": "n1", "containers": [container]}}  # fmt: skip
    cluster.registry.create(PODS, "default", orphan)
    created, _ = cluster.registry.create(DAEMONSETS, "default", daemonset())
    cluster.settle(lambda: cluster.nodes_of() == ["n1", "n2", "n3"])
    stray = cluster.get(PODS, "stray")
    assert stray is not None
    assert stray["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]


def test_the_server_side_table_has_kubectls_columns(api: Api) -> None:
    assert api.call("POST", DS_PATH, daemonset())[0] == 201
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io"
    table = api.client.get(DS_PATH, headers={**api.headers, "Accept": accept}).get_json()
    assert [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0),
        ("Ready", "integer", 0), ("Up-to-date", "integer", 0), ("Available", "integer", 0),
        ("Node Selector", "string", 0), ("Age", "string", 0), ("Containers", "string", 1),
        ("Images", "string", 1), ("Selector", "string", 1),
    ]  # fmt: skip
    cells = table["rows"][0]["cells"]
    assert cells[:7] == ["logs", 0, 0, 0, 0, 0, "<none>"]
    assert cells[8:] == ["main", "tinykube/sleeper:1", "app=logs"]


def test_a_bad_status_is_refused(api: Api) -> None:
    status, created = api.call("POST", DS_PATH, daemonset())
    assert status == 201
    created["status"] = {"numberReady": -1, "collisionCount": 2}
    status, body = api.call("PUT", f"{DS_PATH}/logs/status", created)
    assert status == 422
    assert body["message"] == (
        'DaemonSet.apps "logs" is invalid: '
        "status.numberReady: Invalid value: -1: must be greater than or equal to 0"
    )
    created["status"] = {"collisionCount": 2}
    status, stored = api.call("PUT", f"{DS_PATH}/logs/status", created)
    assert status == 200, stored
    stored["status"] = {"collisionCount": 1}
    status, body = api.call("PUT", f"{DS_PATH}/logs/status", stored)
    assert status == 422
    assert "status.collisionCount: Invalid value: 1: cannot be decremented" in body["message"]
    assert api.call("GET", f"{DS_PATH}/logs")[1]["status"] == {"collisionCount": 2}
