"""Who is calling and what they may do: bearer tokens and the authorizer.

Tokens come from a Kubernetes static token file (``token,user,uid,"group1,group2"``). Users in
group ``system:masters`` may do anything; a node (user ``system:node:<name>``, group
``system:nodes``) only what its agent needs, as Kubernetes' Node authorizer allows (Secrets,
ConfigMaps, PersistentVolumeClaims and their volumes only those its pods use, which the caller
finds; tokens only for the service accounts of its pods); what a node writes in its own Node
and pods is then judged by NodeRestriction (``control.registry``). A service account (a bound
token, ``control.satokens``) may only read (get, list, watch) the objects of its own namespace
until RBAC exists. ``authorize`` is pure.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from common import errors
from common.wellknown import NODE_LEASE_NAMESPACE

NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
MASTERS_GROUP = "system:masters"
AUTHENTICATED_GROUP = "system:authenticated"
# What every authenticated user may GET without a rule of its own: discovery, the OpenAPI
# documents, health and version (Kubernetes' system:discovery and system:public-info-viewer).
DISCOVERY_PATHS = ("/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                   "/openapi/*", "/readyz", "/version", "/version/")  # fmt: skip
LEASE_NAMESPACE = NODE_LEASE_NAMESPACE
# Resources a node reads only when a pod bound to it uses them (the Node authorizer's graph).
NODE_READABLE = ("secrets", "configmaps")
# Resources a node may only GET, by name, when a pod bound to it uses them.
NODE_GETTABLE = ("persistentvolumeclaims", "persistentvolumes")
# Resources whose relation to a node the caller finds: those, and the service accounts whose
# tokens a node may request.
NODE_RELATED = (*NODE_READABLE, *NODE_GETTABLE, "serviceaccounts")
SA_PREFIX = "system:serviceaccount:"
SA_GROUP = "system:serviceaccounts"
# What a service account may do in its own namespace, and the subresources it may read.
SA_VERBS = ("get", "list", "watch")
SA_SUBRESOURCES = ("", "status", "scale", "log")


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()

    @property
    def node(self) -> str | None:
        """The node this user is the agent of, if it is one."""
        if NODES_GROUP in self.groups and self.name.startswith(NODE_PREFIX):
            return self.name[len(NODE_PREFIX) :]
        return None

    @property
    def service_account(self) -> tuple[str, str] | None:
        """``(namespace, name)`` of the service account this user is, if it is one."""
        if SA_GROUP not in self.groups or not self.name.startswith(SA_PREFIX):
            return None
        namespace, _, name = self.name[len(SA_PREFIX) :].partition(":")
        return (namespace, name) if namespace and name else None


@dataclass(frozen=True)
class Attributes:
    """One request as the authorizer sees it (Kubernetes' authorizer.Attributes)."""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    field_selector: dict[str, str] = field(default_factory=dict)


class TokenSource(Protocol):
    """Tokens added at run time (the per-node credentials of joined nodes, kept in the store)."""

    def user_of(self, token: str) -> User | None: ...

    def token_of(self, user_name: str) -> str | None: ...


class TokenAuthenticator:
    """The static token file first, then ``source`` (when given) for tokens added at run time."""

    def __init__(self, tokens: dict[str, User], source: TokenSource | None = None) -> None:
        self._tokens = tokens
        # Bound service-account tokens (JWTs), when the server has a signing key.
        self.service_accounts: TokenSource | None = None
        # Looked up by the token's SHA-256, one dict lookup whatever the number of tokens (a node
        # each): the comparison a lookup makes tells nothing of the token itself.
        self._by_digest = {_digest(token.encode()): user for token, user in tokens.items()}
        self.source = source

    @classmethod
    def from_file(cls, path: Path, source: TokenSource | None = None) -> TokenAuthenticator:
        return cls(parse_token_file(path.read_text()), source)

    def authenticate(self, header: str | None) -> User:
        # The scheme is case-insensitive, as kube-apiserver reads it: the kubernetes Python
        # client's in-cluster config sends "bearer".
        scheme, _, value = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise errors.UnauthorizedError("Unauthorized")
        presented = value.strip().encode()
        user = self._by_digest.get(_digest(presented))
        if user is not None:
            return user
        text = presented.decode(errors="replace")
        found = self.source.user_of(text) if self.source else None
        if found is None and self.service_accounts is not None and text.count(".") == 2:
            found = self.service_accounts.user_of(text)
        if found is not None:
            return found
        raise errors.UnauthorizedError("Unauthorized")

    def has_static_token(self, user_name: str) -> bool:
        """Whether the static token file authenticates ``user_name``."""
        return any(u.name == user_name for u in self._tokens.values())

    def token_of(self, user_name: str) -> str | None:
        """The token of a user (the API server uses a node's token to reach its agent)."""
        static = next((t for t, u in self._tokens.items() if u.name == user_name), None)
        if static is None and self.source is not None:
            return self.source.token_of(user_name)
        return static


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


def parse_token_file(text: str) -> dict[str, User]:
    tokens: dict[str, User] = {}
    for row in csv.reader(io.StringIO(text)):
        if not row or row[0].startswith("#"):
            continue
        if len(row) < 2:
            raise ValueError("token file rows need at least token,user")
        groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
        tokens[row[0].strip()] = User(row[1].strip(), groups)
    return tokens


def format_token_file(rows: list[tuple[str, str, str, list[str]]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for token, user, uid, groups in rows:
        writer.writerow([token, user, uid, ",".join(groups)])
    return out.getvalue()


def authorize(
    user: User,
    attrs: Attributes,
    obj: dict[str, Any] | None = None,
    related: Collection[str] = (),
) -> None:
    """Raise ``ForbiddenError`` unless ``user`` may do ``attrs`` (on ``obj``, the stored object).
    ``related``: for a node reading Secrets or ConfigMaps, the names of those of the request's
    namespace that the pods bound to it use (the Node authorizer's graph)."""
    if MASTERS_GROUP in user.groups:
        return
    node = user.node
    reason = ""
    if user.service_account is not None and _service_account_may(user.service_account, attrs):
        return
    if node is not None:
        if attrs.resource == "serviceaccounts" and not attrs.group and attrs.subresource:
            reason = _node_token_refusal(node, attrs, related) or ""
            if not reason:
                return
        elif attrs.resource in (*NODE_READABLE, *NODE_GETTABLE) and not attrs.group:
            reason = _node_object_refusal(node, attrs, related) or ""
            if not reason:
                return
        elif _node_may(node, attrs, obj):
            return
    message = _forbidden_message(user, attrs) + (f": {reason}" if reason else "")
    raise errors.ForbiddenError(message, details=_details(attrs))


def _node_object_refusal(node: str, a: Attributes, related: Collection[str]) -> str | None:
    """kube's Node authorizer for Secrets and ConfigMaps: a node reads one (by name, or a list
    or watch narrowed to it by ``metadata.name``) only when a pod bound to it uses it; a claim
    or a volume it may only get (``authorizeGet``)."""
    if a.resource in NODE_GETTABLE:
        if a.verb != "get":
            return "can only get individual resources of this type"
        if a.subresource:
            return "cannot get subresource"
    elif a.verb not in ("get", "list", "watch"):
        return "can only read resources of this type"
    elif a.subresource:
        return "cannot read subresource"
    elif not a.namespace:
        return "can only read namespaced object of this type"
    if not object_name(a):
        return "No Object name found"
    if object_name(a) not in related:
        return f"no relationship found between node '{node}' and this object"
    return None


def _node_token_refusal(node: str, a: Attributes, related: Collection[str]) -> str | None:
    """The Node authorizer's rule for ``serviceaccounts/token``: created only for the service
    account of a pod bound to the node (which pod: NodeRestriction, in the TokenRequest)."""
    if a.subresource != "token" or a.verb != "create":
        return "can only create tokens for individual service accounts"
    if a.name not in related:
        return f"no relationship found between node '{node}' and this object"
    return None


def _service_account_may(account: tuple[str, str], a: Attributes) -> bool:
    """Until RBAC exists: a service account reads the objects of its own namespace, no more."""
    return a.verb in SA_VERBS and a.namespace == account[0] and a.subresource in SA_SUBRESOURCES


def object_name(a: Attributes) -> str:
    """The object a request is about: its name, or a list's ``metadata.name`` field selector
    (as kube-apiserver's RequestInfo reads it for a list or watch of one object)."""
    if a.name or a.verb not in ("list", "watch"):
        return a.name
    return a.field_selector.get("metadata.name", "")


def allowed(user: User, attrs: Attributes) -> bool:
    """Whether ``authorize`` lets ``user`` do ``attrs`` when no stored object is at hand."""
    try:
        authorize(user, attrs)
    except errors.ForbiddenError:
        return False
    return True


def may_visit(user: User, verb: str, path: str) -> bool:
    """Whether ``user`` may send ``verb`` to a non-resource path (``/version``, ``/metrics``)."""
    if MASTERS_GROUP in user.groups:
        return True
    return verb == "get" and any(
        path == p or (p.endswith("*") and path.startswith(p[:-1])) for p in DISCOVERY_PATHS
    )


def groups_of(user: User) -> tuple[str, ...]:
    """The user's groups as Kubernetes reports them: every authenticated user is also in
    ``system:authenticated``."""
    if AUTHENTICATED_GROUP in user.groups:
        return user.groups
    return (*user.groups, AUTHENTICATED_GROUP)


def _node_may(node: str, a: Attributes, obj: dict[str, Any] | None) -> bool:
    reading = a.verb in ("get", "list", "watch")
    bound_here = obj is not None and (obj.get("spec") or {}).get("nodeName") == node
    if a.resource == "nodes":
        # Which Node, and what in it, is NodeRestriction's to judge (control.registry).
        return reading or a.verb in ("create", "update", "patch")
    if a.resource == "namespaces":
        return a.verb == "get"
    if (a.resource, a.group) in (("services", ""), ("endpointslices", "discovery.k8s.io")):
        # The agent's kube-proxy reads them cluster-wide (Kubernetes' system:node-proxier role),
        # and its pods' containers get the Services' variables.
        return reading
    if a.resource == "leases" and a.group == "coordination.k8s.io":
        return (
            a.namespace == LEASE_NAMESPACE
            and a.name == node
            and a.verb != "delete"
            and (a.verb != "list" and a.verb != "watch")
        )
    if a.resource == "events":
        return a.verb in ("create", "update", "patch")
    if a.resource != "pods":
        return False
    if a.verb in ("list", "watch"):
        return a.field_selector.get("spec.nodeName") == node
    if a.verb == "get" and not a.subresource:
        return bound_here
    if a.subresource == "status" and a.verb in ("get", "update", "patch"):
        return bound_here
    if a.verb == "delete" and not a.subresource:
        # Only to finish a deletion already asked for, once the agent has stopped the containers.
        terminating = obj is not None and bool((obj.get("metadata") or {}).get("deletionTimestamp"))
        return bound_here and terminating
    return False


def _forbidden_message(user: User, a: Attributes) -> str:
    resource = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    name = object_name(a)
    what = f'{a.resource} "{name}"' if name else a.resource
    where = f' in the namespace "{a.namespace}"' if a.namespace else " at the cluster scope"
    return (
        f'{what} is forbidden: User "{user.name}" cannot {a.verb} resource "{resource}" '
        f'in API group "{a.group}"{where}'
    )


def _details(a: Attributes) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": a.resource}
    if a.name:
        details["name"] = a.name
    if a.group:
        details["group"] = a.group
    return details
