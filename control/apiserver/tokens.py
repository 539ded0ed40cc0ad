"""Service-account tokens on the API: the ``serviceaccounts/token`` subresource (TokenRequest,
kube-apiserver's TokenREST with NodeRestriction's rule for nodes), ``tokenreviews``
(authentication.k8s.io/v1, for those allowed to create them) and the authenticator's source that
accepts bound tokens while their service account, and the pod they are bound to, still exist
with the same uid. Shell: the signing and the checks are ``control.satokens``'.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request

from common import errors
from common.meta import timestamp
from common.resources import ResourceType, must
from control import satokens
from control.apiserver import auth, output, rest, reviews
from control.registry import recorder
from control.registry.registry import Registry
from control.validation.decode import decode_object
from control.validation.dispatch import invalid_error
from control.validation.serviceaccount import validate_token_request

blueprint = Blueprint("tokens", __name__)

Obj = dict[str, Any]
SERVICE_ACCOUNTS, PODS, NODES = must("serviceaccounts"), must("pods"), must("nodes")
AUTHN = "authentication.k8s.io"
TOKEN_REQUEST = ResourceType("TokenRequest", "tokenrequests", "tokenrequest", AUTHN, "v1", True)
TOKEN_REVIEW = ResourceType("TokenReview", "tokenreviews", "tokenreview", AUTHN, "v1", False)


def issuer() -> satokens.Issuer | None:
    found: satokens.Issuer | None = current_app.extensions["tinykube"]["config"].service_accounts
    return found


def _registry() -> Registry:
    reg: Registry = current_app.extensions["tinykube"]["registry"]
    return reg


def token_request(namespace: str, name: str) -> Response:
    """``POST .../serviceaccounts/NAME/token``: a signed token for the account (201)."""
    if request.method != "POST":
        raise errors.MethodNotAllowedError(
            f"the server does not allow this method on the requested resource ({request.method})"
        )
    signer = issuer()
    if signer is None:
        raise errors.NotFoundError("the server could not find the requested resource")
    with recorder.recording():
        body = _body()
        sa = _registry().get(SERVICE_ACCOUNTS, namespace, name, cached=True)
        # Fields a protobuf body sends empty are left out, as kube-apiserver's answer omits them.
        spec = {k: v for k, v in (body.get("spec") or {}).items() if v is not None}
        pod = _bound_pod(namespace, name, spec.get("boundObjectRef"), g.user.node)
        _node_restriction(g.user.node, pod)
        node = _node_of(pod)
        seconds = int(spec.get("expirationSeconds") or satokens.DEFAULT_EXPIRATION_SECONDS)
        now = int(time.time())
        claims = satokens.claims_of(signer, sa, spec.get("audiences") or [], seconds, now,
                                    pod, node)  # fmt: skip
        spec["audiences"] = claims["aud"]
        spec["expirationSeconds"] = seconds
        if pod is not None:
            spec["boundObjectRef"] = {"kind": "Pod", "apiVersion": "v1",
                                      "name": pod["metadata"]["name"],
                                      "uid": pod["metadata"]["uid"]}  # fmt: skip
        answer = {
            "kind": "TokenRequest",
            "apiVersion": TOKEN_REQUEST.api_version,
            "metadata": {
                "name": name,
                "namespace": namespace,
                "creationTimestamp": _time(now),
            },
            "spec": spec,
            "status": {
                "token": satokens.sign(signer, claims),
                "expirationTimestamp": _time(now + seconds),
            },
        }
        return output.negotiated(TOKEN_REQUEST, "").respond(answer, 201)


def _time(seconds: int) -> str:
    return timestamp(dt.datetime.fromtimestamp(seconds, dt.UTC))


def _body() -> Obj:
    value = rest.body()
    if not isinstance(value, dict):
        decode_object("TokenRequest", value)
        raise errors.BadRequestError("the body of the request was in an unknown format")
    given = value.get("apiVersion")
    if given is not None and given != TOKEN_REQUEST.api_version:
        raise errors.BadRequestError(
            f"the API version in the data ({given}) does not match the expected API version "
            f"({TOKEN_REQUEST.api_version})"
        )
    decode_object("TokenRequest", value)
    causes = validate_token_request(value)
    if causes:
        error = invalid_error("TokenRequest", "", causes)
        error.message = error.message.replace(
            "TokenRequest ", "TokenRequest.authentication.k8s.io "
        )
        error.details["group"] = AUTHN
        raise error
    return value


def _bound_pod(namespace: str, account: str, ref: Any, node: str | None) -> Obj | None:
    """The pod a token is bound to (TokenREST's checks of ``boundObjectRef``)."""
    if not isinstance(ref, dict) or not ref:
        return None
    kind = ref.get("kind")
    if kind != "Pod":
        raise errors.BadRequestError(f"cannot bind token to object of type {kind}")
    name, uid = str(ref.get("name") or ""), ref.get("uid")
    pod = _cached_pod(namespace, name, uid, node) or _registry().get(PODS, namespace, name)
    if uid and uid != pod["metadata"].get("uid"):
        raise errors.ConflictError(
            f'Operation cannot be fulfilled on Pod "{ref.get("name")}": the UID in the bound '
            f"object reference ({uid}) does not match the UID in record. The object might have "
            "been deleted and then recreated",
            details={"name": ref.get("name"), "kind": "Pod"},
        )
    if ((pod.get("spec") or {}).get("serviceAccountName") or "default") != account:
        raise errors.BadRequestError(
            f'cannot bind token for serviceaccount "{account}" to pod running with different '
            "serviceaccount name."
        )
    return pod


def _cached_pod(namespace: str, name: str, uid: Any, node: str | None) -> Obj | None:
    """The watch cache's pod when it is the one the reference names (same uid) and, for a node,
    already bound to it: what the checks read of it (account, node) never changes for a uid.
    None sends the caller to the store (a uid not given or not matching, a bind not seen yet)."""
    if not uid:
        return None
    pod = _registry().cache.cacher(PODS).peek(namespace, name)
    if pod is None or pod["metadata"].get("uid") != uid:
        return None
    if node is not None and (pod.get("spec") or {}).get("nodeName") != node:
        return None
    return pod


def _node_restriction(node: str | None, pod: Obj | None) -> None:
    """NodeRestriction: a node's token is bound to a pod on that node."""
    if node is None:
        return
    if pod is None:
        raise errors.ForbiddenError("node requested token not bound to a pod")
    if (pod.get("spec") or {}).get("nodeName") != node:
        raise errors.ForbiddenError(
            "node requested token bound to a pod scheduled on a different node"
        )


def _node_of(pod: Obj | None) -> Obj | None:
    node_name = ((pod or {}).get("spec") or {}).get("nodeName")
    if not node_name:
        return None
    try:
        return _registry().get(NODES, "", str(node_name), cached=True)
    except errors.NotFoundError:
        return {"metadata": {"name": node_name}}


class ServiceAccountTokens:
    """The authenticator's source of bound tokens: valid while signed by ``issuer``, unexpired,
    and while their service account and bound pod exist with the uids the token names."""

    def __init__(
        self,
        issuer: satokens.Issuer,
        registry: Registry,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.registry = registry
        self.clock = clock

    def claims(self, token: str, audiences: list[str] | None = None) -> satokens.Claims:
        """The token's claims; ``satokens.TokenError`` when it is not (or no longer) valid."""
        claims = satokens.verify(self.issuer, token, int(self.clock()), audiences)
        try:
            sa = self.registry.get(SERVICE_ACCOUNTS, claims.namespace, claims.name)
        except errors.NotFoundError as e:
            raise satokens.TokenError(
                f'service account "{claims.namespace}/{claims.name}" not found'
            ) from e
        if claims.uid and sa["metadata"].get("uid") != claims.uid:
            raise satokens.TokenError(
                f"service account UID ({claims.uid}) does not match claim "
                f"({sa['metadata'].get('uid')})"
            )
        if claims.pod_name:
            try:
                pod = self.registry.get(PODS, claims.namespace, claims.pod_name)
            except errors.NotFoundError as e:
                raise satokens.TokenError(
                    f'pod "{claims.namespace}/{claims.pod_name}" not found'
                ) from e
            if pod["metadata"].get("uid") != claims.pod_uid:
                raise satokens.TokenError(
                    f"pod UID ({pod['metadata'].get('uid')}) does not match claim "
                    f"({claims.pod_uid})"
                )
        return claims

    def user_of(self, token: str) -> auth.User | None:
        try:
            claims = self.claims(token)
        except satokens.TokenError:
            return None
        return auth.User(claims.username, satokens.groups(claims.namespace))

    def token_of(self, user_name: str) -> str | None:
        return None


def install(
    app: Flask, authenticator: auth.TokenAuthenticator, signer: satokens.Issuer | None
) -> None:
    """Make the app's authenticator accept bound tokens when the server signs them."""
    if signer is not None:
        registry: Registry = app.extensions["tinykube"]["registry"]
        authenticator.service_accounts = ServiceAccountTokens(signer, registry)


def user_info(user: auth.User, claims: satokens.Claims | None) -> Obj:
    """TokenReview's ``status.user`` (``extra`` as kube-apiserver fills it for a bound token)."""
    info: Obj = {"username": user.name}
    if claims is not None:
        info["uid"] = claims.uid
        extra = {satokens.EXTRA_CREDENTIAL_ID: [f"JTI={claims.token_id}"]}
        if claims.pod_name:
            extra[satokens.EXTRA_POD_NAME] = [claims.pod_name]
            extra[satokens.EXTRA_POD_UID] = [claims.pod_uid]
        if claims.node_name:
            extra[satokens.EXTRA_NODE_NAME] = [claims.node_name]
        info["groups"] = list(auth.groups_of(user))
        info["extra"] = extra
        return info
    info["groups"] = list(auth.groups_of(user))
    return info


def review(review: Obj) -> Obj:
    """The ``status`` of a TokenReview: who the token is, by the server's own authenticator."""
    spec = review.get("spec") or {}
    token = str(spec.get("token") or "")
    audiences = list(spec.get("audiences") or [])
    authenticator: auth.TokenAuthenticator = current_app.extensions["tinykube"]["auth"]
    source = authenticator.service_accounts
    if isinstance(source, ServiceAccountTokens) and token.count(".") == 2:
        try:
            claims = source.claims(token, audiences or None)
        except satokens.TokenError as e:
            return {"user": {}, "error": f"[invalid bearer token, {e}]"}
        user = auth.User(claims.username, satokens.groups(claims.namespace))
        return {"authenticated": True, "user": user_info(user, claims),
                "audiences": list(claims.audiences)}  # fmt: skip
    try:
        found = authenticator.authenticate(f"Bearer {token}")
    except errors.UnauthorizedError:
        return {"user": {}, "error": "[invalid bearer token, token not found]"}
    accepted = source.issuer.audiences if isinstance(source, ServiceAccountTokens) else ()
    accepted = accepted or (satokens.DEFAULT_ISSUER,)
    if audiences and not set(audiences) & set(accepted):
        return {"user": {}, "error": "[invalid bearer token, token audiences is invalid]"}
    return {"authenticated": True, "user": user_info(found, None),
            "audiences": audiences or list(accepted)}  # fmt: skip


@blueprint.route(TOKEN_REVIEW.path(), methods=reviews.ALL_METHODS)
def token_review() -> Response:
    auth.authorize(g.user, auth.Attributes(verb="create", resource="tokenreviews", group=AUTHN))
    return reviews._answer(TOKEN_REVIEW, review)
