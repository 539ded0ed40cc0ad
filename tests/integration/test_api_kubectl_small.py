"""What kubectl and the Python client lean on besides the verbs: ``/version/``, the namespace
name label, ``details`` on every NotFound, protobuf DeleteOptions on DELETE, ``pods/eviction``
and the container ``logs --previous`` reads."""

from __future__ import annotations

from typing import Any

from common.wellknown import NAMESPACE_NAME_LABEL
from control.apiserver.logs import previous_container
from tests.integration.conftest import Api, pod_manifest
from tests.unit.test_protobody import envelope, field

PODS = "/api/v1/namespaces/default/pods"
PROTOBUF = "application/vnd.kubernetes.protobuf"


def test_version_with_a_trailing_slash(app: Any) -> None:
    anonymous = Api(app.test_client(), None)
    assert anonymous.call("GET", "/version/") == anonymous.call("GET", "/version")
    code, body = anonymous.call("GET", "/version/")
    assert code == 200 and body["gitVersion"] == "v1.35.0-tinykube"


def test_every_namespace_is_labelled_with_its_name(api: Api, app: Any) -> None:
    code, made = api.call("POST", "/api/v1/namespaces", {"metadata": {"generateName": "team-"}})
    assert code == 201
    name = made["metadata"]["name"]
    assert made["metadata"]["labels"] == {NAMESPACE_NAME_LABEL: name}
    patch = {"metadata": {"labels": {NAMESPACE_NAME_LABEL: "other", "tier": "x"}}}
    code, patched = api.call("PATCH", f"/api/v1/namespaces/{name}", patch,
                             content_type="application/merge-patch+json")  # fmt: skip
    assert code == 200
    assert patched["metadata"]["labels"] == {NAMESPACE_NAME_LABEL: name, "tier": "x"}
    code, listed = api.call("GET", "/api/v1/namespaces",
                            labelSelector=f"{NAMESPACE_NAME_LABEL}=kube-system")  # fmt: skip
    assert [n["metadata"]["name"] for n in listed["items"]] == ["kube-system"]


def test_namespaces_stored_without_the_label_get_it(app: Any, api: Api, store: Any) -> None:
    stored = store.get("namespaces", "", "default")
    del stored["metadata"]["labels"]
    store.update("namespaces", stored)
    assert "labels" not in api.call("GET", "/api/v1/namespaces/default")[1]["metadata"]
    app.extensions["tinykube"]["registry"].ensure_namespaces()  # as every API server start
    labels = api.call("GET", "/api/v1/namespaces/default")[1]["metadata"]["labels"]
    assert labels == {NAMESPACE_NAME_LABEL: "default"}


def test_not_found_always_has_details(api: Api) -> None:
    code, status = api.call("GET", f"{PODS}/nope")
    assert code == 404
    assert status["details"] == {"name": "nope", "kind": "pods"}
    api.call("POST", PODS, pod_manifest("web"))
    # kubectl debug reads details.name of this 404 (an unserved subresource) without a check.
    code, status = api.call("PATCH", f"{PODS}/web/ephemeralcontainers", {},
                            content_type="application/strategic-merge-patch+json")  # fmt: skip
    assert (code, status["reason"], status["details"]) == (404, "NotFound", {})
    code, status = api.call("GET", "/apis/nowhere/v1/things")
    assert (code, status["details"]) == (404, {})


def test_a_protobuf_delete_options_body(api: Api) -> None:
    api.call("POST", PODS, bound("web"))
    grace = envelope("v1", "DeleteOptions", field(1, 5))
    code, pod = api.call("DELETE", f"{PODS}/web", raw=grace, content_type=PROTOBUF)
    assert code == 200
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 5
    stale = envelope("v1", "DeleteOptions", field(2, field(1, "not-the-uid")))
    code, status = api.call("DELETE", f"{PODS}/web", raw=stale, content_type=PROTOBUF)
    assert (
        code == 409
        and "Precondition failed: UID in precondition: not-the-uid" in (status["message"])
    )


def bound(name: str) -> dict[str, Any]:
    """A pod on a node: its deletion waits for its grace period."""
    pod = pod_manifest(name)
    pod["spec"]["nodeName"] = "node-1"
    return pod


def eviction(name: str, **options: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "Eviction",
                            "metadata": {"name": name, "namespace": "default"}}  # fmt: skip
    if options:
        body["deleteOptions"] = options
    return body


def test_an_eviction_is_a_graceful_delete(api: Api) -> None:
    api.call("POST", PODS, bound("web"))
    code, status = api.call("POST", f"{PODS}/web/eviction", eviction("web", gracePeriodSeconds=7))
    assert (code, status) == (
        201,
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
    )
    pod = api.call("GET", f"{PODS}/web")[1]
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 7
    api.call("POST", PODS, pod_manifest("db"))
    raw = envelope("policy/v1", "Eviction", field(1, field(1, "db")) + field(2, field(1, 0)))
    code, _ = api.call("POST", f"{PODS}/db/eviction", raw=raw, content_type=PROTOBUF)
    assert code == 201
    assert api.call("GET", f"{PODS}/db")[0] == 404  # an unbound pod goes at once


def test_eviction_refusals(api: Api) -> None:
    code, status = api.call("POST", f"{PODS}/gone/eviction", eviction("gone"))
    assert (code, status["message"]) == (404, 'pods "gone" not found')
    assert status["details"] == {"name": "gone", "kind": "pods"}
    api.call("POST", PODS, pod_manifest("web"))
    code, status = api.call("POST", f"{PODS}/web/eviction", eviction("other"))
    assert (code, status["message"]) == (
        400,
        "name in URL does not match name in Eviction object",
    )
    code, status = api.call("POST", f"{PODS}/web/eviction", {**eviction("web"), "kind": "Pod"})
    assert code == 400
    assert api.call("GET", f"{PODS}/web/eviction")[0] == 405
    assert api.call("GET", f"{PODS}/web")[1]["metadata"].get("deletionTimestamp") is None


def test_eviction_is_discovered_in_policy_v1(api: Api) -> None:
    resources = {r["name"]: r for r in api.call("GET", "/api/v1")[1]["resources"]}
    assert resources["pods/eviction"] == {
        "name": "pods/eviction", "singularName": "", "namespaced": True, "group": "policy",
        "version": "v1", "kind": "Eviction", "verbs": ["create"],
    }  # fmt: skip


def test_logs_previous_reads_the_last_terminated_container() -> None:
    pod = {
        "metadata": {"name": "crashy"},
        "status": {
            "containerStatuses": [
                {"name": "side", "lastState": {}},
                {"name": "main", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 3, "containerID": "docker://abc"}}},
            ]
        },
    }  # fmt: skip
    assert previous_container(pod, "main") == "docker://abc"
    try:
        previous_container(pod, "side")
    except Exception as e:
        assert str(e) == 'previous terminated container "side" in pod "crashy" not found'
    else:
        raise AssertionError("no previous container for side")
