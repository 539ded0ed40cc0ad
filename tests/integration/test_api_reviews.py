"""Self-reviews over HTTP (``kubectl auth whoami``, ``auth can-i``, ``can-i --list``): answered
from the authorizer the server enforces, for an admin and for a node, in JSON and in the protobuf
kubectl sends; bad reviews get kube-apiserver's errors and nothing is stored."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Api
from tests.unit.test_protobody import envelope

WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
CAN_I = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
RULES = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
PROTOBUF = "application/vnd.kubernetes.protobuf"
# What kubectl 1.35 sends for `kubectl auth can-i get pods --subresource=status -n kube-system`
# (the object inside the envelope, captured with -v=8): an empty status comes along.
KUBECTL_CAN_I = bytes.fromhex(
    "0a100a0012001a0022002a0032003800420012280a260a0b6b7562652d73797374656d12036765741a0022002a04"
    "706f647332067374617475733a001a08080012001a002000"
)


def can_i(api: Api, **attributes: str) -> bool:
    code, review = api.call("POST", CAN_I, {"spec": {"resourceAttributes": attributes}})
    assert code == 201, review
    assert review["kind"] == "SelfSubjectAccessReview"
    assert review["spec"]["resourceAttributes"] == attributes
    allowed: bool = review["status"]["allowed"]
    return allowed


def may_visit(api: Api, verb: str, path: str) -> bool:
    body = {"spec": {"nonResourceAttributes": {"verb": verb, "path": path}}}
    code, review = api.call("POST", CAN_I, body)
    assert code == 201, review
    allowed: bool = review["status"]["allowed"]
    return allowed


def test_whoami_names_the_user_and_its_groups(api: Api, node_api: Api) -> None:
    code, review = api.call("POST", WHOAMI, {"apiVersion": "authentication.k8s.io/v1",
                                             "kind": "SelfSubjectReview"})  # fmt: skip
    assert code == 201, review
    assert review["status"]["userInfo"] == {
        "username": "admin", "groups": ["system:masters", "system:authenticated"]}  # fmt: skip
    code, review = node_api.call("POST", WHOAMI, {})
    assert review["status"]["userInfo"] == {
        "username": "system:node:node-1",
        "groups": ["system:nodes", "system:authenticated"],
    }


def test_can_i_follows_the_authorizer(api: Api, node_api: Api) -> None:
    assert can_i(api, verb="delete", resource="nodes")
    assert can_i(api, verb="create", group="apps", resource="deployments", namespace="default")
    # A node: its own Lease and status writes, never a Deployment or another node's Lease.
    assert can_i(node_api, verb="update", group="coordination.k8s.io", resource="leases",
                 namespace="kube-node-lease", name="node-1")  # fmt: skip
    assert not can_i(node_api, verb="update", group="coordination.k8s.io", resource="leases",
                     namespace="kube-node-lease", name="node-2")  # fmt: skip
    assert can_i(node_api, verb="create", resource="events", namespace="default")
    assert not can_i(node_api, verb="create", group="apps", resource="deployments",
                     namespace="default")  # fmt: skip
    assert not can_i(node_api, verb="list", resource="pods")  # only its own, by field selector


def test_can_i_on_paths(api: Api, node_api: Api) -> None:
    assert may_visit(api, "get", "/metrics")
    assert not may_visit(node_api, "get", "/metrics")
    assert may_visit(node_api, "get", "/version")
    assert may_visit(node_api, "get", "/apis/apps/v1")
    assert not may_visit(node_api, "post", "/api")


def test_the_review_kubectl_sends_in_protobuf(api: Api) -> None:
    body = envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", KUBECTL_CAN_I)
    code, review = api.call("POST", CAN_I, raw=body, content_type=PROTOBUF)
    assert code == 201, review
    assert review["spec"]["resourceAttributes"] == {
        "namespace": "kube-system",
        "verb": "get",
        "resource": "pods",
        "subresource": "status",
    }
    assert review["status"] == {"allowed": True}


def test_rules_review(api: Api, node_api: Api) -> None:
    code, review = api.call("POST", RULES, {"spec": {"namespace": "default"}})
    assert code == 201, review
    assert review["status"]["resourceRules"] == [
        {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]  # fmt: skip
    assert review["status"]["incomplete"] is False
    code, review = node_api.call("POST", RULES, {"spec": {"namespace": "default"}})
    status: dict[str, Any] = review["status"]
    assert status["resourceRules"] == [] and status["incomplete"] is True
    assert status["evaluationError"] == "node authorizer does not support user rule resolution"
    (discovery,) = status["nonResourceRules"]
    assert discovery["verbs"] == ["get"] and "/apis/*" in discovery["nonResourceURLs"]


def test_bad_reviews(api: Api) -> None:
    code, status = api.call("POST", CAN_I, {"spec": {}})
    assert code == 422, status
    assert status["message"] == (
        'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec: Invalid value: null: '
        "exactly one of nonResourceAttributes or resourceAttributes must be specified"
    )
    both = {"resourceAttributes": {"verb": "get"}, "nonResourceAttributes": {"verb": "get"}}
    assert api.call("POST", CAN_I, {"spec": both})[0] == 422
    code, status = api.call("POST", CAN_I, {"spec": {"resourceAttributes": "pods"}})
    assert code == 400 and "resourceAttributes" in status["message"], status
    code, status = api.call("POST", CAN_I, {"spec": {"resourceAttributes": {"verbs": "get"}}})
    assert code == 400, status
    assert 'unknown field "spec.resourceAttributes.verbs"' in status["message"]
    code, status = api.call("POST", CAN_I, {"kind": "SelfSubjectReview"})
    assert code == 400, status
    assert status["message"] == (
        "the kind in the data (SelfSubjectReview) does not match the expected kind "
        "(SelfSubjectAccessReview)"
    )
    assert api.call("POST", WHOAMI, ["not", "an", "object"])[0] == 400


def test_reviews_are_only_created(api: Api) -> None:
    for path in (WHOAMI, CAN_I, RULES):
        code, status = api.call("GET", path)
        assert (code, status["reason"]) == (405, "MethodNotAllowed"), path
    assert api.call("GET", f"{CAN_I}/x")[0] == 404


def test_a_review_needs_credentials(api: Api) -> None:
    resp = api.client.post(WHOAMI, json={})
    assert resp.status_code == 401


def test_discovery_lists_the_reviews(api: Api) -> None:
    code, groups = api.call("GET", "/apis")
    names = [g["name"] for g in groups["groups"]]
    assert "authentication.k8s.io" in names and "authorization.k8s.io" in names
    code, listing = api.call("GET", "/apis/authorization.k8s.io/v1")
    assert code == 200
    entries = {r["name"]: r for r in listing["resources"]}
    assert entries["selfsubjectaccessreviews"]["verbs"] == ["create"]
    assert entries["selfsubjectrulesreviews"]["kind"] == "SelfSubjectRulesReview"
    code, listing = api.call("GET", "/apis/authentication.k8s.io/v1")
    assert [r["name"] for r in listing["resources"]] == ["selfsubjectreviews", "tokenreviews"]
