"""Per-node credentials handed out when a node joins, kept in the store as Secrets in
``kube-system`` (type ``tinykube.io/node-token``), one per node, named by the token's id so that
authenticating a request is one read. Each remembers a hash of the joining machine's node
password, as k3s does, so that another machine cannot take over a live node's name.
``build_secret``/``decode``/``join_refusal`` are pure; ``NodeTokens`` reads and writes the store.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from common import errors, meta
from common.jointoken import split_node_token
from control.apiserver.auth import NODE_PREFIX, NODES_GROUP, User
from control.controllers.nodehealth import condition
from control.store import Store

log = logging.getLogger(__name__)

Obj = dict[str, Any]

RESOURCE = "secrets"
NAMESPACE = "kube-system"
SECRET_TYPE = "tinykube.io/node-token"
NAME_PREFIX = "node-token-"
_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class NodeCredential:
    token_id: str
    secret: str
    node: str
    password_hash: str

    @property
    def token(self) -> str:
        return f"{self.token_id}.{self.secret}"

    @property
    def user(self) -> User:
        return User(NODE_PREFIX + self.node, (NODES_GROUP, "system:authenticated"))


def password_hash(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def new_credential(node: str, password: str) -> NodeCredential:
    token_id = "".join(secrets.choice(_ALPHABET) for _ in range(6))
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(32))
    return NodeCredential(token_id, secret, node, password_hash(password))


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def build_secret(cred: NodeCredential, now: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": NAME_PREFIX + cred.token_id,
            "namespace": NAMESPACE,
            "uid": meta.new_uid(),
            "creationTimestamp": now,
            "annotations": {"tinykube.io/node-name": cred.node},
        },
        "type": SECRET_TYPE,
        "data": {
            "token-id": _b64(cred.token_id),
            "token-secret": _b64(cred.secret),
            "node-name": _b64(cred.node),
            "node-password-hash": _b64(cred.password_hash),
        },
    }


def decode(obj: dict[str, Any]) -> NodeCredential | None:
    """The credential a stored Secret holds, or None when it is not a node token."""
    if obj.get("type") != SECRET_TYPE:
        return None
    data = obj.get("data") or {}
    try:
        fields = {k: base64.b64decode(str(data[k])).decode() for k in (
            "token-id", "token-secret", "node-name", "node-password-hash")}  # fmt: skip
    except (KeyError, ValueError):
        return None
    return NodeCredential(
        fields["token-id"],
        fields["token-secret"],
        fields["node-name"],
        fields["node-password-hash"],
    )


def join_refusal(
    node: str, password: str, old: NodeCredential | None, current: Obj | None, static: bool
) -> str | None:
    """Why a machine presenting ``password`` may not join as ``node``, or None. ``old`` is the
    credential of the node that joined under that name before, ``current`` its Node object.
    A machine that joined before comes back with the same node password (k3s's rule); no other
    may take the name of a static token's node, of a node that joined from elsewhere and still
    has its Node, or of a Ready node that never joined."""
    if static:
        return (
            f'node "{node}" cannot join: the name belongs to a node of the server\'s static '
            f'token file (user "{NODE_PREFIX}{node}"); choose another node name'
        )
    if old is not None:
        if hmac.compare_digest(old.password_hash, password_hash(password)) or current is None:
            return None
        return (
            f'node "{node}" has already joined from another machine (its node password '
            "differs); delete the Node to free the name, or pick another"
        )
    ready = condition(current, "Ready") if current is not None else None
    if ready is not None and ready.get("status") == "True":
        return (
            f'node "{node}" cannot join: a Node with name "{node}" and status "Ready" already '
            "exists in the cluster and did not join with a node password; delete the existing "
            "Node or choose another node name"
        )
    return None


class NodeTokens:
    """The store-backed half of the token authenticator, and the issuer used by ``join``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()  # one issue at a time: one credential per node

    def user_of(self, token: str) -> User | None:
        parts = split_node_token(token)
        if parts is None:
            return None
        try:
            obj = self.store.get(RESOURCE, NAMESPACE, NAME_PREFIX + parts[0])
        except errors.NotFoundError:
            return None
        cred = decode(obj)
        if cred is None or not hmac.compare_digest(cred.secret.encode(), parts[1].encode()):
            return None
        return cred.user

    def token_of(self, user_name: str) -> str | None:
        if not user_name.startswith(NODE_PREFIX):
            return None
        found = self.of_node(user_name[len(NODE_PREFIX) :])
        return found.token if found else None

    def all(self) -> list[NodeCredential]:
        items, _ = self.store.list(RESOURCE, NAMESPACE)
        return [c for c in (decode(o) for o in items) if c is not None]

    def of_node(self, node: str) -> NodeCredential | None:
        return next((c for c in self.all() if c.node == node), None)

    def issue(
        self, node: str, password: str, current: Callable[[str], Obj | None], static: bool = False
    ) -> NodeCredential:
        """A new credential for ``node``, unless ``join_refusal`` says why not; ``current``
        reads the Node of that name, ``static`` says whether a static token is that node's."""
        with self._lock:
            old = self.of_node(node)
            reason = join_refusal(node, password, old, current(node), static)
            if reason is not None:
                raise errors.ConflictError(reason, details={"name": node, "kind": "nodes"})
            cred = new_credential(node, password)
            self.store.create(RESOURCE, build_secret(cred, meta.timestamp()))
            if old is not None:
                with contextlib.suppress(errors.NotFoundError):
                    self.store.delete(RESOURCE, NAMESPACE, NAME_PREFIX + old.token_id)
            log.info("node %s: issued a node credential (%s)", node, cred.token_id)
            return cred

    def revoke(self, node: str) -> bool:
        with self._lock:
            old = self.of_node(node)
            if old is None:
                return False
            self.store.delete(RESOURCE, NAMESPACE, NAME_PREFIX + old.token_id)
            return True
