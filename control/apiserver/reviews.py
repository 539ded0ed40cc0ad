"""Self-reviews: who the caller is and what it may do, answered from the authenticator and the
authorizer the server really uses (``control.apiserver.auth``), as kube-apiserver serves them:
``SelfSubjectReview`` (authentication.k8s.io/v1, ``kubectl auth whoami``),
``SelfSubjectAccessReview`` and ``SelfSubjectRulesReview`` (authorization.k8s.io/v1, ``kubectl
auth can-i`` and ``can-i --list``). Create-only and never stored. Shell: the blueprint's routes;
the answers are pure functions of the user and the request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, g, request

from common import errors, fielderrors
from common.resources import ResourceType
from control.apiserver import auth, output, rest
from control.registry import recorder
from control.validation.decode import decode_object, strict_warnings

blueprint = Blueprint("reviews", __name__)

Obj = dict[str, Any]

AUTHN, AUTHZ = "authentication.k8s.io", "authorization.k8s.io"
SELF_SUBJECT_REVIEW = ResourceType(
    "SelfSubjectReview", "selfsubjectreviews", "selfsubjectreview", AUTHN, "v1", False
)
ACCESS_REVIEW = ResourceType(
    "SelfSubjectAccessReview", "selfsubjectaccessreviews", "selfsubjectaccessreview", AUTHZ, "v1",
    False,
)  # fmt: skip
RULES_REVIEW = ResourceType(
    "SelfSubjectRulesReview", "selfsubjectrulesreviews", "selfsubjectrulesreview", AUTHZ, "v1",
    False,
)  # fmt: skip
# Discovery lists them with the one verb they take, "create".
REVIEWS = (SELF_SUBJECT_REVIEW, ACCESS_REVIEW, RULES_REVIEW)
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def who_am_i(user: auth.User) -> Obj:
    return {
        "kind": "SelfSubjectReview",
        "apiVersion": SELF_SUBJECT_REVIEW.api_version,
        "metadata": {"creationTimestamp": None},
        "status": {"userInfo": {"username": user.name, "groups": list(auth.groups_of(user))}},
    }


def access_review(user: auth.User, review: Obj) -> Obj:
    """The ``status`` of a SelfSubjectAccessReview (decoded): would ``user`` be allowed?"""
    spec = _dict(review, "spec")
    res, non_res = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if (res is None) == (non_res is None):
        cause = fielderrors.invalid(
            "spec", non_res, "exactly one of nonResourceAttributes or resourceAttributes "
            "must be specified")  # fmt: skip
        raise errors.InvalidError(
            f'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: '
            f"{fielderrors.error_string(cause)}",
            [cause],
            {"group": "authorization.k8s.io", "kind": "SelfSubjectAccessReview"},
        )
    if non_res is not None:
        allowed = auth.may_visit(user, _text(non_res, "verb"), _text(non_res, "path"))
    else:
        allowed = auth.allowed(user, _attributes(_dict(spec, "resourceAttributes")))
    return {"allowed": allowed}


def rules_review(user: auth.User, namespace: str) -> Obj:
    """The ``status`` of a SelfSubjectRulesReview: what ``user`` may do in ``namespace``."""
    if auth.MASTERS_GROUP in user.groups:
        return {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    status: Obj = {
        "resourceRules": [],
        "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": list(auth.DISCOVERY_PATHS)}],
        "incomplete": False,
    }
    account = user.service_account
    if account is not None and namespace == account[0]:
        # What ``auth.authorize`` lets a service account do until RBAC exists.
        resources = ["*", *(f"*/{sub}" for sub in auth.SA_SUBRESOURCES if sub)]
        status["resourceRules"] = [
            {"verbs": list(auth.SA_VERBS), "apiGroups": ["*"], "resources": resources}
        ]
    if user.node is not None:
        # As Kubernetes' Node authorizer: its decisions depend on the objects, not on rules.
        status["incomplete"] = True
        status["evaluationError"] = "node authorizer does not support user rule resolution"
    return status


def _attributes(res: Obj) -> auth.Attributes:
    return auth.Attributes(
        verb=_text(res, "verb"),
        resource=_text(res, "resource"),
        group=_text(res, "group"),
        subresource=_text(res, "subresource"),
        namespace=_text(res, "namespace"),
        name=_text(res, "name"),
    )


def _dict(obj: Obj, key: str) -> Obj:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _text(obj: Obj, key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _answer(rt: ResourceType, status: Callable[[Obj], Obj]) -> Response:
    """Decode the request's review of kind ``rt`` and answer it with its ``status``: 201, the
    review as sent and what the server found, never stored."""
    if request.method != "POST":
        raise errors.MethodNotAllowedError(
            f"the server does not allow this method on the requested resource ({request.method})"
        )
    with recorder.recording():
        review = _review_body(rt)
        found = status(review)
        answer = {
            "kind": rt.kind,
            "apiVersion": rt.api_version,
            "metadata": {**_dict(review, "metadata"), "creationTimestamp": None},
            "status": found,
        }
        if rt is not SELF_SUBJECT_REVIEW:
            answer["spec"] = _dict(review, "spec")
        return output.negotiated(rt, "review").respond(answer, 201)


def _review_body(rt: ResourceType) -> Obj:
    """The request's review, decoded as kube-apiserver decodes a create: its ``apiVersion`` and
    ``kind`` if given must be the review's, and its fields those of the review's schema
    (``fieldValidation`` as for any write)."""
    value = rest.body(optional=True)
    review: Obj = {} if value is None else value
    if isinstance(review, dict):
        given_version, given_kind = review.get("apiVersion"), review.get("kind")
        if given_version is not None and given_version != rt.api_version:
            raise errors.BadRequestError(
                f"the API version in the data ({given_version}) does not match the expected "
                f"API version ({rt.api_version})"
            )
        if given_kind is not None and given_kind != rt.kind:
            raise errors.BadRequestError(
                f"the kind in the data ({given_kind}) does not match the expected kind ({rt.kind})"
            )
    validation = rest._field_validation()
    if validation != "Strict":
        for warning in strict_warnings(rt.kind, review, ()):
            if validation == "Warn":
                recorder.add(warning)
    decode_object(rt.kind, review)
    return review


@blueprint.route(SELF_SUBJECT_REVIEW.path(), methods=ALL_METHODS)
def self_subject_review() -> Response:
    return _answer(SELF_SUBJECT_REVIEW, lambda _: who_am_i(g.user)["status"])


@blueprint.route(ACCESS_REVIEW.path(), methods=ALL_METHODS)
def self_subject_access_review() -> Response:
    return _answer(ACCESS_REVIEW, lambda review: access_review(g.user, review))


@blueprint.route(RULES_REVIEW.path(), methods=ALL_METHODS)
def self_subject_rules_review() -> Response:
    return _answer(
        RULES_REVIEW,
        lambda review: rules_review(g.user, _text(_dict(review, "spec"), "namespace")),
    )
