"""ServiceAccounts and their tokens over the real app on Redis: the kind, TokenRequest (claims,
expiry, pod binding, its errors), the authenticator accepting a bound token until its pod or
account is gone, what a service account may do (its own namespace, read only) and what
``auth can-i`` says of it, TokenReview for admins, and a node's token requests (Node authorizer
and NodeRestriction)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from control import satokens
from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator, User
from tests.integration.conftest import ADMIN_TOKEN, NODE_TOKEN, Api, pod_manifest

SA = "/api/v1/namespaces/default/serviceaccounts"
PODS = "/api/v1/namespaces/default/pods"
REVIEW = "/apis/authentication.k8s.io/v1/tokenreviews"
CAN_I = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
RULES = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"


@pytest.fixture
def issuer(tmp_path: Path) -> satokens.Issuer:
    key = satokens.ensure_key(tmp_path / "service.key")
    return satokens.Issuer(key)


@pytest.fixture
def sa_app(store: Any, issuer: satokens.Issuer) -> Iterator[Any]:
    auth = TokenAuthenticator(
        {
            ADMIN_TOKEN: User("admin", ("system:masters",)),
            NODE_TOKEN: User("system:node:node-1", ("system:nodes",)),
        }
    )
    application = create_app(store, auth, ServerConfig(service_accounts=issuer))
    application.extensions["tinykube"]["registry"].ensure_namespaces()
    yield application


@pytest.fixture
def admin_api(sa_app: Any) -> Api:
    return Api(sa_app.test_client(), ADMIN_TOKEN)


def _account(api: Api, name: str = "robot") -> dict[str, Any]:
    code, sa = api.call("POST", SA, {"metadata": {"name": name}})
    assert code == 201, sa
    return sa


def _token(api: Api, name: str = "robot", **spec: Any) -> dict[str, Any]:
    code, answer = api.call("POST", f"{SA}/{name}/token", {"spec": spec})
    assert code == 201, answer
    return answer


def _bound_pod(api: Api, name: str = "web", account: str = "robot") -> dict[str, Any]:
    manifest = pod_manifest(name)
    manifest["spec"]["serviceAccountName"] = account
    code, pod = api.call("POST", PODS, manifest)
    assert code == 201, pod
    return pod


def test_a_service_account_is_created_listed_and_printed(admin_api: Api) -> None:
    sa = _account(admin_api)
    assert sa["kind"] == "ServiceAccount" and sa["metadata"]["uid"]
    code, table = admin_api.call("GET", SA, fieldSelector="metadata.name=robot")
    assert code == 200 and [i["metadata"]["name"] for i in table["items"]] == ["robot"]
    code, bad = admin_api.call("POST", SA, {"metadata": {"name": "Bad_Name"}})
    assert code == 422 and bad["reason"] == "Invalid"


def test_a_token_request_gives_a_signed_token_with_kube_apiserver_claims(
    admin_api: Api, issuer: satokens.Issuer
) -> None:
    sa = _account(admin_api)
    answer = _token(admin_api)
    assert answer["kind"] == "TokenRequest"
    assert answer["apiVersion"] == "authentication.k8s.io/v1"
    assert answer["spec"]["expirationSeconds"] == 3600
    assert answer["spec"]["audiences"] == [satokens.DEFAULT_ISSUER]
    assert "boundObjectRef" not in answer["spec"]
    token = answer["status"]["token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == issuer.key.key_id
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "system:serviceaccount:default:robot"
    assert claims["iss"] == satokens.DEFAULT_ISSUER
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert claims["kubernetes.io"] == {
        "namespace": "default",
        "serviceaccount": {"name": "robot", "uid": sa["metadata"]["uid"]},
    }
    expires = dt.datetime.fromisoformat(answer["status"]["expirationTimestamp"])
    assert int(expires.timestamp()) == claims["exp"]


def test_token_request_errors(admin_api: Api) -> None:
    code, missing = admin_api.call("POST", f"{SA}/nobody/token", {"spec": {}})
    assert code == 404 and missing["message"] == 'serviceaccounts "nobody" not found'
    _account(admin_api)
    code, short = admin_api.call("POST", f"{SA}/robot/token", {"spec": {"expirationSeconds": 60}})
    assert code == 422
    assert short["message"] == (
        'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid '
        "value: 60: may not specify a duration less than 10 minutes"
    )
    code, kind = admin_api.call(
        "POST", f"{SA}/robot/token", {"spec": {"boundObjectRef": {"kind": "Node", "name": "x"}}}
    )
    assert code == 400 and kind["message"] == "cannot bind token to object of type Node"
    code, unknown = admin_api.call("POST", f"{SA}/robot/token", {"spec": {"bogus": 1}})
    assert code == 400 and 'unknown field "spec.bogus"' in unknown["message"]
    code, _ = admin_api.call("GET", f"{SA}/robot/token")
    assert code == 405


def test_a_pod_bound_token_names_the_pod_and_dies_with_it(admin_api: Api, sa_app: Any) -> None:
    _account(admin_api)
    pod = _bound_pod(admin_api)
    uid = pod["metadata"]["uid"]
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": uid}
    token = _token(admin_api, boundObjectRef=ref)["status"]["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["kubernetes.io"]["pod"] == {"name": "web", "uid": uid}
    robot = Api(sa_app.test_client(), token)
    code, _ = robot.call("GET", f"{PODS}/web")
    assert code == 200
    code, stale = admin_api.call(
        "POST", f"{SA}/robot/token", {"spec": {"boundObjectRef": {**ref, "uid": "other"}}}
    )
    assert code == 409 and "does not match the UID in record" in stale["message"]
    admin_api.call("DELETE", f"{PODS}/web", gracePeriodSeconds=0)
    code, gone = robot.call("GET", f"{PODS}/web")
    assert code == 401 and gone["reason"] == "Unauthorized"


def test_a_token_for_another_account_cannot_bind_the_pod(admin_api: Api) -> None:
    _account(admin_api)
    _bound_pod(admin_api, account="default")  # the namespace's own default account
    code, answer = admin_api.call(
        "POST", f"{SA}/robot/token", {"spec": {"boundObjectRef": {"kind": "Pod", "name": "web"}}}
    )
    assert code == 400
    assert answer["message"] == (
        'cannot bind token for serviceaccount "robot" to pod running with different '
        "serviceaccount name."
    )


def test_a_service_account_reads_its_own_namespace_only(admin_api: Api, sa_app: Any) -> None:
    _account(admin_api)
    robot = Api(sa_app.test_client(), _token(admin_api)["status"]["token"])
    assert robot.call("GET", PODS)[0] == 200
    assert robot.call("GET", "/api/v1/namespaces/kube-system/pods")[0] == 403
    assert robot.call("GET", "/api/v1/pods")[0] == 403
    code, refused = robot.call("POST", PODS, pod_manifest("x"))
    assert code == 403
    assert refused["message"] == (
        'pods "x" is forbidden: User "system:serviceaccount:default:robot" cannot create '
        'resource "pods" in API group "" in the namespace "default"'
    )
    code, who = robot.call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {})
    assert code == 201
    assert who["status"]["userInfo"]["groups"] == [
        "system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"
    ]  # fmt: skip


def test_auth_can_i_tells_the_truth_for_a_service_account(admin_api: Api, sa_app: Any) -> None:
    _account(admin_api)
    robot = Api(sa_app.test_client(), _token(admin_api)["status"]["token"])

    def can(**attributes: str) -> bool:
        code, review = robot.call("POST", CAN_I, {"spec": {"resourceAttributes": attributes}})
        assert code == 201, review
        return bool(review["status"]["allowed"])

    assert can(verb="list", resource="pods", namespace="default")
    assert can(verb="get", resource="secrets", namespace="default", name="s")
    assert not can(verb="delete", resource="pods", namespace="default")
    assert not can(verb="list", resource="pods", namespace="kube-system")
    code, rules = robot.call("POST", RULES, {"spec": {"namespace": "default"}})
    assert code == 201
    assert rules["status"]["resourceRules"][0]["verbs"] == ["get", "list", "watch"]
    code, rules = robot.call("POST", RULES, {"spec": {"namespace": "kube-system"}})
    assert rules["status"]["resourceRules"] == []


def test_an_expired_or_foreign_token_is_refused(
    admin_api: Api, sa_app: Any, issuer: satokens.Issuer
) -> None:
    sa = _account(admin_api)
    old = satokens.claims_of(issuer, sa, [], 600, 1_000_000)
    robot = Api(sa_app.test_client(), satokens.sign(issuer, old))
    assert robot.call("GET", PODS)[0] == 401
    other = satokens.Issuer(satokens.SigningKey(ec.generate_private_key(ec.SECP256R1())))
    now = int(dt.datetime.now(dt.UTC).timestamp())
    forged = satokens.sign(other, satokens.claims_of(other, sa, [], 600, now))
    assert Api(sa_app.test_client(), forged).call("GET", PODS)[0] == 401
    valid = Api(sa_app.test_client(), _token(admin_api)["status"]["token"])
    assert valid.call("GET", PODS)[0] == 200
    admin_api.call("DELETE", f"{SA}/robot")
    assert valid.call("GET", PODS)[0] == 401
    _account(admin_api)  # the same name again: another uid
    assert valid.call("GET", PODS)[0] == 401


def test_token_review_for_admins(admin_api: Api, sa_app: Any) -> None:
    sa = _account(admin_api)
    _bound_pod(admin_api)
    token = _token(admin_api, boundObjectRef={"kind": "Pod", "name": "web"})["status"]["token"]
    code, review = admin_api.call("POST", REVIEW, {"spec": {"token": token}})
    assert code == 201, review
    status = review["status"]
    assert status["authenticated"] is True
    assert status["audiences"] == [satokens.DEFAULT_ISSUER]
    user = status["user"]
    assert user["username"] == "system:serviceaccount:default:robot"
    assert user["uid"] == sa["metadata"]["uid"]
    assert user["extra"]["authentication.kubernetes.io/pod-name"] == ["web"]
    code, review = admin_api.call("POST", REVIEW, {"spec": {"token": token, "audiences": ["x"]}})
    assert code == 201 and "authenticated" not in review["status"]
    assert review["status"]["error"].startswith("[invalid bearer token")
    code, review = admin_api.call("POST", REVIEW, {"spec": {"token": "nonsense"}})
    assert code == 201 and review["status"]["user"] == {}
    robot = Api(sa_app.test_client(), token)
    code, refused = robot.call("POST", REVIEW, {"spec": {"token": token}})
    assert code == 403 and refused["reason"] == "Forbidden"


def test_a_node_requests_tokens_only_for_its_own_pods(admin_api: Api, sa_app: Any) -> None:
    _account(admin_api)
    pod = _bound_pod(admin_api)
    node = Api(sa_app.test_client(), NODE_TOKEN)
    ref = {"kind": "Pod", "name": "web", "uid": pod["metadata"]["uid"]}
    code, refused = node.call("POST", f"{SA}/robot/token", {"spec": {"boundObjectRef": ref}})
    assert code == 403  # not bound to node-1 yet
    assert "no relationship found between node 'node-1' and this object" in refused["message"]
    binding = {"target": {"kind": "Node", "name": "node-1"}, "metadata": {"name": "web"}}
    assert admin_api.call("POST", f"{PODS}/web/binding", binding)[0] == 201
    code, answer = node.call("POST", f"{SA}/robot/token", {"spec": {"boundObjectRef": ref}})
    assert code == 201, answer
    claims = jwt.decode(answer["status"]["token"], options={"verify_signature": False})
    assert claims["kubernetes.io"]["node"]["name"] == "node-1"
    code, unbound = node.call("POST", f"{SA}/robot/token", {"spec": {}})
    assert code == 403 and unbound["message"] == "node requested token not bound to a pod"


def test_admission_defaults_the_account_and_mounts_the_token(admin_api: Api) -> None:
    assert admin_api.call("GET", f"{SA}/default")[0] == 200  # made with the namespace
    code, pod = admin_api.call("POST", PODS, pod_manifest("web"))
    assert code == 201, pod
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "default"
    [volume] = spec["volumes"]
    assert volume["name"].startswith("kube-api-access-") and len(volume["name"]) == 21
    sources = volume["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": volume["name"], "readOnly": True,
         "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    ]  # fmt: skip


def test_admission_follows_automount_and_copies_pull_secrets(admin_api: Api) -> None:
    body = {"metadata": {"name": "quiet"}, "automountServiceAccountToken": False,
            "imagePullSecrets": [{"name": "registry"}]}  # fmt: skip
    assert admin_api.call("POST", SA, body)[0] == 201
    manifest = pod_manifest("a")
    manifest["spec"]["serviceAccountName"] = "quiet"
    code, pod = admin_api.call("POST", PODS, manifest)
    assert code == 201, pod
    assert "volumes" not in pod["spec"]
    assert pod["spec"]["imagePullSecrets"] == [{"name": "registry"}]
    manifest = pod_manifest("b")
    manifest["spec"].update(serviceAccountName="quiet", automountServiceAccountToken=True)
    code, pod = admin_api.call("POST", PODS, manifest)
    assert code == 201 and pod["spec"]["volumes"][0]["name"].startswith("kube-api-access-")


def test_admission_refuses_a_pod_whose_account_is_missing(admin_api: Api) -> None:
    manifest = pod_manifest("web")
    manifest["spec"]["serviceAccountName"] = "ghost"
    code, refused = admin_api.call("POST", PODS, manifest)
    assert code == 403
    assert refused["message"] == (
        'pods "web" is forbidden: error looking up service account default/ghost: '
        'serviceaccount "ghost" not found'
    )
    assert admin_api.call("GET", f"{PODS}/web")[0] == 404


def test_a_new_namespace_has_its_default_account_at_once(admin_api: Api) -> None:
    # No controller runs here: the namespace's create writes its default account, so a pod
    # created right after its namespace is admitted.
    assert admin_api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "fresh"}})[0] == 201
    code, account = admin_api.call("GET", "/api/v1/namespaces/fresh/serviceaccounts/default")
    assert code == 200, account
    code, pod = admin_api.call("POST", "/api/v1/namespaces/fresh/pods", pod_manifest("web"))
    assert code == 201, pod
    assert pod["spec"]["serviceAccountName"] == "default"
    # A dry-run namespace makes nothing.
    code, _ = admin_api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "dry"}},
                             dryRun="All")  # fmt: skip
    assert code == 201
    assert admin_api.call("GET", "/api/v1/namespaces/dry/serviceaccounts/default")[0] == 404
