"""Pods over the real API server and Redis: CRUD, selectors, conflicts, errors as Status objects."""

from __future__ import annotations

import json

from tests.integration.conftest import Api, pod_manifest

PODS = "/api/v1/namespaces/default/pods"


def test_create_get_list_pod(api: Api) -> None:
    code, pod = api.call("POST", PODS, pod_manifest("web"))
    assert code == 201, pod
    assert pod["metadata"]["uid"] and pod["metadata"]["resourceVersion"]
    assert pod["metadata"]["creationTimestamp"].endswith("Z")
    assert pod["status"]["phase"] == "Pending"
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    code, got = api.call("GET", f"{PODS}/web")
    assert code == 200 and got == pod
    api.call("POST", PODS, pod_manifest("db", app="db"))
    code, listing = api.call("GET", PODS, labelSelector="app in (web,x)")
    assert code == 200
    assert listing["kind"] == "PodList" and int(listing["metadata"]["resourceVersion"]) > 0
    assert [p["metadata"]["name"] for p in listing["items"]] == ["web"]
    code, all_ns = api.call("GET", "/api/v1/pods", fieldSelector="metadata.name=db")
    assert [p["metadata"]["name"] for p in all_ns["items"]] == ["db"]


def test_server_owned_fields_are_not_taken_from_the_client(api: Api) -> None:
    body = pod_manifest("web")
    body["metadata"].update(
        {"uid": "mine", "resourceVersion": "999", "creationTimestamp": "2000-01-01T00:00:00Z"}
    )
    body["status"] = {"phase": "Running", "podIP": "1.2.3.4"}
    code, pod = api.call("POST", PODS, body)
    assert code == 201
    assert pod["metadata"]["uid"] != "mine"
    assert pod["metadata"]["creationTimestamp"] != "2000-01-01T00:00:00Z"
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def test_create_existing_is_409_already_exists(api: Api) -> None:
    api.call("POST", PODS, pod_manifest("web"))
    code, status = api.call("POST", PODS, pod_manifest("web"))
    assert code == 409
    assert status["kind"] == "Status" and status["reason"] == "AlreadyExists"
    assert status["message"] == 'pods "web" already exists'


def test_missing_pod_is_404_status(api: Api) -> None:
    code, status = api.call("GET", f"{PODS}/nope")
    assert code == 404
    assert status["reason"] == "NotFound" and status["message"] == 'pods "nope" not found'
    assert status["details"] == {"name": "nope", "kind": "pods"}


def test_stale_update_is_409_and_changes_nothing(api: Api) -> None:
    _, pod = api.call("POST", PODS, pod_manifest("web"))
    pod["metadata"]["labels"] = {"app": "v2"}
    code, updated = api.call("PUT", f"{PODS}/web", pod)
    assert code == 200 and updated["metadata"]["labels"] == {"app": "v2"}
    pod["metadata"]["labels"] = {"app": "v3"}  # still the old resourceVersion
    code, status = api.call("PUT", f"{PODS}/web", pod)
    assert code == 409 and status["reason"] == "Conflict"
    assert "the object has been modified" in status["message"]
    assert api.call("GET", f"{PODS}/web")[1]["metadata"]["labels"] == {"app": "v2"}


def test_merge_patch_labels(api: Api) -> None:
    api.call("POST", PODS, pod_manifest("web"))
    code, pod = api.call(
        "PATCH",
        f"{PODS}/web",
        {"metadata": {"labels": {"tier": "fe"}}},
        content_type="application/merge-patch+json",
    )
    assert code == 200
    assert pod["metadata"]["labels"] == {"app": "web", "tier": "fe"}


def test_immutable_pod_fields(api: Api) -> None:
    api.call("POST", PODS, pod_manifest("web"))
    code, status = api.call(
        "PATCH",
        f"{PODS}/web",
        {"spec": {"restartPolicy": "Never"}},
        content_type="application/merge-patch+json",
    )
    assert code == 422, status
    assert status["reason"] == "Invalid"
    assert "pod updates may not change fields other than" in status["message"]
    code, pod = api.call(
        "PATCH",
        f"{PODS}/web",
        {"spec": {"containers": [{"name": "web", "image": "tinykube/web:2"}]}},
        content_type="application/merge-patch+json",
    )
    assert code == 200 and pod["spec"]["containers"][0]["image"] == "tinykube/web:2"


def test_invalid_pods_are_422_naming_the_field_and_not_stored(api: Api) -> None:
    cases = {
        "no-image": ({"containers": [{"name": "web"}]}, "spec.containers[0].image"),
        "no-containers": ({"containers": []}, "spec.containers"),
        "bad-restart": (
            {"containers": [{"name": "w", "image": "i"}], "restartPolicy": "Sometimes"},
            "spec.restartPolicy",
        ),
    }
    for name, (spec, field) in cases.items():
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
        code, status = api.call("POST", PODS, body)
        assert code == 422, (name, status)
        assert field in [c["field"] for c in status["details"]["causes"]], status
        assert api.call("GET", f"{PODS}/{name}")[0] == 404
    code, status = api.call("POST", PODS, {**pod_manifest("x"), "metadata": {"name": "Bad_Name"}})
    assert code == 422 and status["details"]["causes"][0]["field"] == "metadata.name"
    bad_label = pod_manifest("y")
    bad_label["metadata"]["labels"] = {"app": "no spaces allowed"}
    code, status = api.call("POST", PODS, bad_label)
    assert code == 422 and status["details"]["causes"][0]["field"] == "metadata.labels"


def test_unknown_fields_and_bad_bodies_are_400(api: Api) -> None:
    body = pod_manifest("web")
    body["spec"]["nodeNmae"] = "x"
    body["spec"]["containers"][0]["imagee"] = "x"
    code, status = api.call("POST", PODS, body)
    assert code == 400 and status["reason"] == "BadRequest"
    assert 'unknown field "spec.nodeNmae"' in status["message"]
    assert 'unknown field "spec.containers[0].imagee"' in status["message"]
    for raw in (b"[1, 2]", b'"a string"', b"{not json"):
        code, status = api.call("POST", PODS, raw=raw)
        assert code == 400, raw
        assert status["kind"] == "Status"
    code, status = api.call("POST", PODS, {**pod_manifest("web"), "kind": "Deployment"})
    assert code == 400
    assert api.call("GET", PODS)[1]["items"] == []


def test_unknown_resources_and_namespaces(api: Api) -> None:
    code, status = api.call("GET", "/api/v1/namespaces/default/widgets")
    assert code == 404 and status["kind"] == "Status"
    code, status = api.call("POST", "/api/v1/namespaces/nope/pods", pod_manifest("web"))
    assert code == 404 and status["message"] == 'namespaces "nope" not found'


def test_body_over_3_mib_is_413(api: Api) -> None:
    body = pod_manifest("big")
    body["metadata"]["annotations"] = {"x": "a" * (3 * 1024 * 1024)}
    code, status = api.call("POST", PODS, raw=json.dumps(body).encode())
    assert code == 413
    assert status["message"] == "Request entity too large: limit is 3145728"


def test_authentication_is_required(app: object) -> None:
    anonymous = Api(app.test_client(), None)  # type: ignore[attr-defined]
    code, status = anonymous.call("GET", PODS)
    assert code == 401 and status["reason"] == "Unauthorized"
    wrong = Api(app.test_client(), "wrong")  # type: ignore[attr-defined]
    assert wrong.call("GET", PODS)[0] == 401
    assert anonymous.call("GET", "/healthz")[0] == 200
    assert anonymous.call("GET", "/version")[0] == 200


def test_binding_sets_node_once(api: Api) -> None:
    api.call("POST", PODS, pod_manifest("web"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "web"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    }
    code, _ = api.call("POST", f"{PODS}/web/binding", binding)
    assert code == 201
    pod = api.call("GET", f"{PODS}/web")[1]
    assert pod["spec"]["nodeName"] == "node-1"
    assert {"type": "PodScheduled", "status": "True"}.items() <= pod["status"]["conditions"][
        0
    ].items()
    code, status = api.call("POST", f"{PODS}/web/binding", binding)
    assert code == 409 and "already assigned" in status["message"]


def test_graceful_delete_of_a_bound_pod(api: Api, node_api: Api) -> None:
    api.call(
        "POST",
        PODS,
        {
            **pod_manifest("web"),
            "spec": {"nodeName": "node-1", "containers": [{"name": "web", "image": "i:1"}]},
        },
    )
    # A node may not delete a pod nobody asked to delete.
    assert node_api.call("DELETE", f"{PODS}/web", {"gracePeriodSeconds": 0})[0] == 403
    code, pod = api.call("DELETE", f"{PODS}/web")
    assert code == 200
    assert (
        pod["metadata"]["deletionTimestamp"] and pod["metadata"]["deletionGracePeriodSeconds"] == 30
    )
    # Still there (Terminating) until the node confirms its containers are gone.
    assert api.call("GET", f"{PODS}/web")[0] == 200
    code, _ = node_api.call(
        "DELETE",
        f"{PODS}/web",
        {"gracePeriodSeconds": 0, "preconditions": {"uid": pod["metadata"]["uid"]}},
    )
    assert code == 200
    assert api.call("GET", f"{PODS}/web")[0] == 404


def test_unscheduled_pod_is_deleted_at_once(api: Api) -> None:
    api.call("POST", PODS, pod_manifest("web"))
    assert api.call("DELETE", f"{PODS}/web")[0] == 200
    assert api.call("GET", f"{PODS}/web")[0] == 404


def test_node_token_sees_only_its_pods(api: Api, node_api: Api) -> None:
    api.call(
        "POST",
        PODS,
        {
            **pod_manifest("mine"),
            "spec": {"nodeName": "node-1", "containers": [{"name": "web", "image": "i:1"}]},
        },
    )
    api.call(
        "POST",
        PODS,
        {
            **pod_manifest("theirs"),
            "spec": {"nodeName": "node-2", "containers": [{"name": "web", "image": "i:1"}]},
        },
    )
    code, listing = node_api.call("GET", "/api/v1/pods", fieldSelector="spec.nodeName=node-1")
    assert code == 200 and [p["metadata"]["name"] for p in listing["items"]] == ["mine"]
    assert node_api.call("GET", "/api/v1/pods")[0] == 403
    assert node_api.call("GET", f"{PODS}/theirs")[0] == 403
    theirs = api.call("GET", f"{PODS}/theirs")[1]
    theirs["status"]["phase"] = "Running"
    assert node_api.call("PUT", f"{PODS}/theirs/status", theirs)[0] == 403
    mine = api.call("GET", f"{PODS}/mine")[1]
    mine["status"]["phase"] = "Running"
    mine["spec"]["containers"][0]["image"] = "sneaky:1"  # ignored: only status is written
    code, updated = node_api.call("PUT", f"{PODS}/mine/status", mine)
    assert code == 200 and updated["status"]["phase"] == "Running"
    assert updated["spec"]["containers"][0]["image"] == "i:1"
    assert node_api.call("POST", PODS, pod_manifest("new"))[0] == 403


def test_discovery(api: Api) -> None:
    code, core = api.call("GET", "/api/v1")
    assert code == 200
    pods = next(r for r in core["resources"] if r["name"] == "pods")
    assert pods["shortNames"] == ["po"] and pods["namespaced"] is True
    assert api.call("GET", "/api")[1]["versions"] == ["v1"]
    groups = api.call("GET", "/apis")[1]["groups"]
    assert "coordination.k8s.io" in [g["name"] for g in groups]
    assert api.call("GET", "/version")[1]["major"] == "1"
    code, namespaces = api.call("GET", "/api/v1/namespaces")
    assert {"default", "kube-system"} <= {n["metadata"]["name"] for n in namespaces["items"]}


def test_node_registers_only_itself(node_api: Api) -> None:
    own = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}
    code, node = node_api.call("POST", "/api/v1/nodes", own)
    assert code == 201, node
    other = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-2"}}
    code, status = node_api.call("POST", "/api/v1/nodes", other)
    assert code == 403 and status["reason"] == "Forbidden"


def test_put_without_resource_version_is_unconditional(api: Api) -> None:
    _, pod = api.call("POST", PODS, pod_manifest("web"))
    del pod["metadata"]["resourceVersion"]
    pod["metadata"]["labels"] = {"app": "changed"}
    code, updated = api.call("PUT", f"{PODS}/web", pod)
    assert code == 200, updated
    assert updated["metadata"]["labels"] == {"app": "changed"}


def test_node_field_selector(api: Api, node_api: Api) -> None:
    node_api.call("POST", "/api/v1/nodes", {"metadata": {"name": "node-1"}})
    code, nodes = api.call("GET", "/api/v1/nodes", fieldSelector="spec.unschedulable=false")
    assert code == 200 and [n["metadata"]["name"] for n in nodes["items"]] == ["node-1"]


def test_every_pod_gets_the_default_tolerations(api: Api) -> None:
    """DefaultTolerationSeconds admission, on create and update, with tinykube's 5 s."""
    code, pod = api.call("POST", PODS, pod_manifest("web"))
    assert code == 201
    assert pod["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 5},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 5},
    ]  # fmt: skip
    # A PUT of the pod without them gets them back: nothing changes.
    body = json.loads(json.dumps(pod))
    del body["spec"]["tolerations"]
    code, again = api.call("PUT", f"{PODS}/web", body)
    assert code == 200 and again == pod
    # A pod with its own toleration of one taint keeps it and gets the other.
    body = pod_manifest("own")
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
    body["spec"]["tolerations"] = [own]
    code, pod = api.call("POST", PODS, body)
    assert [t["key"] for t in pod["spec"]["tolerations"]] == [
        "node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"]  # fmt: skip
    assert "tolerationSeconds" not in pod["spec"]["tolerations"][0]
