"""How a machine joins the cluster, as with k3s: ``GET /cacerts`` serves the cluster CA to anyone
(the joining agent checks it against the hash in its token before trusting it), and
``POST /v1-tinykube/join``, authenticated by the join secret (HTTP Basic ``node:<secret>``),
returns the node's own credential (user ``system:node:<name>``, group ``system:nodes``) and, when
the control plane allocates them, the node's pod CIDR. The name of a static token's node, or of
a live node the caller cannot prove to be (its node password), is refused. Neither goes through
the bearer-token authentication of the API. Shell (Flask handlers over ``NodeTokens``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from common import errors
from common.jointoken import NODE_USER
from common.names import is_dns1123_subdomain
from common.resources import must
from control.apiserver.auth import NODE_PREFIX, TokenAuthenticator
from control.apiserver.nodetokens import NodeTokens

log = logging.getLogger(__name__)

CACERTS_PATH = "/cacerts"
JOIN_PATH = "/v1-tinykube/join"
# Paths these handlers authenticate themselves (the API's bearer tokens do not apply).
PATHS = (CACERTS_PATH, JOIN_PATH)
# A node password is random; anything this short was not made by an agent.
MIN_PASSWORD = 16

blueprint = Blueprint("join", __name__)


@dataclass(frozen=True)
class JoinSettings:
    """What the join endpoints serve; put in ``ServerConfig.extra["join"]``."""

    ca_pem: bytes
    secret: str
    tokens: NodeTokens
    # node name -> its pod CIDR (allocated once), when the control plane allocates them.
    pod_cidr: Callable[[str], str] | None = None


def _settings() -> JoinSettings:
    found = current_app.extensions["tinykube"]["config"].extra.get("join")
    if not isinstance(found, JoinSettings):
        raise errors.NotFoundError("this server does not accept joining nodes (it serves no CA)")
    return found


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``(user, password)`` of an HTTP Basic ``Authorization`` header, or None."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        raw = base64.b64decode(header[len("Basic ") :].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = raw.partition(":")
    return (user, password) if sep else None


def check_join_secret(settings: JoinSettings, header: str | None) -> None:
    creds = basic_credentials(header)
    ok = (
        creds is not None
        and creds[0] == NODE_USER
        and hmac.compare_digest(creds[1].encode(), settings.secret.encode())
    )
    if not ok:
        raise errors.UnauthorizedError("Unauthorized")


def parse_join_request(body: Any) -> tuple[str, str]:
    """``(nodeName, nodePassword)`` of a join request body, validated."""
    if not isinstance(body, dict):
        raise errors.BadRequestError("the join request must be a JSON object")
    name, password = body.get("nodeName"), body.get("nodePassword")
    if not isinstance(name, str) or not name:
        raise errors.BadRequestError("nodeName is required")
    problems = is_dns1123_subdomain(name)
    if problems:
        raise errors.BadRequestError(f'invalid node name "{name}": {"; ".join(problems)}')
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise errors.BadRequestError(f"nodePassword must be at least {MIN_PASSWORD} characters")
    return name, password


@blueprint.get(CACERTS_PATH)
def cacerts() -> Response:
    return Response(_settings().ca_pem, mimetype="text/plain")


@blueprint.post(JOIN_PATH)
def join() -> tuple[Response, int]:
    settings = _settings()
    check_join_secret(settings, request.headers.get("Authorization"))
    name, password = parse_join_request(request.get_json(force=True, silent=True))
    registry = current_app.extensions["tinykube"]["registry"]
    auth: TokenAuthenticator = current_app.extensions["tinykube"]["auth"]
    nodes = must("nodes")

    def current(node: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = registry.get(nodes, "", node)
            return found
        except errors.NotFoundError:
            return None

    static = auth.has_static_token(NODE_PREFIX + name)
    try:
        cred = settings.tokens.issue(name, password, current, static)
    except errors.ConflictError as e:
        log.warning("join: node %s from %s refused: %s", name, request.remote_addr, e)
        raise
    answer: dict[str, Any] = {
        "apiVersion": "tinykube.io/v1",
        "kind": "NodeCredential",
        "nodeName": name,
        "user": cred.user.name,
        "groups": list(cred.user.groups),
        "token": cred.token,
    }
    if settings.pod_cidr is not None:
        answer["podCIDR"] = settings.pod_cidr(name)
    log.info("join: node %s joined from %s", name, request.remote_addr)
    return jsonify(answer), 201
