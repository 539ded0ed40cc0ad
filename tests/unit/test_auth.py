"""The authorizer: admins may do anything, a node only what its agent needs."""

from __future__ import annotations

from typing import Any

import pytest

from common import errors
from control.apiserver.auth import Attributes, TokenAuthenticator, User, authorize, parse_token_file

ADMIN = User("admin", ("system:masters",))
NODE = User("system:node:n1", ("system:nodes",))


def pod_on(node: str, deleting: bool = False) -> dict[str, Any]:
    m: dict[str, Any] = {"name": "p"}
    if deleting:
        m["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": m, "spec": {"nodeName": node}}


ALLOWED = [
    (Attributes("create", "nodes", name="n1"), None),
    (Attributes("update", "nodes", subresource="status", name="n1"), None),
    # Another node's name too: NodeRestriction refuses it, with its own message.
    (Attributes("patch", "nodes", name="n2"), None),
    (Attributes("list", "nodes"), None),
    (Attributes("get", "namespaces", name="kube-system"), None),
    (Attributes("watch", "pods", field_selector={"spec.nodeName": "n1"}), None),
    (Attributes("get", "pods", namespace="d", name="p"), pod_on("n1")),
    (Attributes("update", "pods", subresource="status", namespace="d", name="p"), pod_on("n1")),
    (Attributes("delete", "pods", namespace="d", name="p"), pod_on("n1", deleting=True)),
    (Attributes("create", "events", namespace="d"), None),
    # Its kube-proxy watches every Service and EndpointSlice.
    (Attributes("list", "services"), None),
    (Attributes("watch", "services"), None),
    (Attributes("list", "endpointslices", "discovery.k8s.io"), None),
    (Attributes("watch", "endpointslices", "discovery.k8s.io"), None),
    (
        Attributes(
            "update", "leases", "coordination.k8s.io", namespace="kube-node-lease", name="n1"
        ),
        None,
    ),
]
DENIED = [
    (Attributes("list", "pods"), None),
    (Attributes("watch", "pods", field_selector={"spec.nodeName": "n2"}), None),
    (Attributes("get", "pods", namespace="d", name="p"), pod_on("n2")),
    (Attributes("update", "pods", subresource="status", namespace="d", name="p"), pod_on("n2")),
    (Attributes("update", "pods", namespace="d", name="p"), pod_on("n1")),
    (Attributes("create", "pods", namespace="d"), None),
    (Attributes("delete", "pods", namespace="d", name="p"), pod_on("n1")),
    (Attributes("delete", "nodes", name="n1"), None),
    (
        Attributes(
            "update", "leases", "coordination.k8s.io", namespace="kube-node-lease", name="n2"
        ),
        None,
    ),
    (Attributes("create", "namespaces"), None),
    (Attributes("create", "services", namespace="d"), None),
    (Attributes("delete", "services", namespace="d", name="s"), None),
    (Attributes("update", "endpointslices", "discovery.k8s.io", namespace="d", name="s"), None),
    (Attributes("list", "endpointslices"), None),  # not the discovery.k8s.io group
]


@pytest.mark.parametrize(("attrs", "obj"), ALLOWED)
def test_node_may(attrs: Attributes, obj: dict[str, Any] | None) -> None:
    authorize(NODE, attrs, obj)


@pytest.mark.parametrize(("attrs", "obj"), DENIED)
def test_node_may_not(attrs: Attributes, obj: dict[str, Any] | None) -> None:
    with pytest.raises(errors.ForbiddenError) as e:
        authorize(NODE, attrs, obj)
    assert 'User "system:node:n1" cannot' in e.value.message


@pytest.mark.parametrize(("attrs", "obj"), DENIED)
def test_admin_may_do_anything(attrs: Attributes, obj: dict[str, Any] | None) -> None:
    authorize(ADMIN, attrs, obj)


def test_token_file_and_authentication() -> None:
    tokens = parse_token_file(
        't1,admin,admin,"system:masters"\nt2,system:node:n1,n1,system:nodes\n'
    )
    auth = TokenAuthenticator(tokens)
    assert auth.authenticate("Bearer t1") == ADMIN
    assert auth.authenticate("Bearer t2").node == "n1"
    assert auth.token_of("system:node:n1") == "t2"
    assert auth.authenticate("bearer t1") == ADMIN  # the in-cluster Python client's spelling
    for header in (None, "", "Basic x", "Bearer nope", "Bearer ", "Bearert1"):
        with pytest.raises(errors.UnauthorizedError):
            auth.authenticate(header)


RELATED = {"used"}


@pytest.mark.parametrize(
    "attrs",
    [
        Attributes("get", "secrets", namespace="d", name="used"),
        Attributes("get", "configmaps", namespace="d", name="used"),
        Attributes("list", "secrets", namespace="d", field_selector={"metadata.name": "used"}),
        Attributes("watch", "configmaps", namespace="d", field_selector={"metadata.name": "used"}),
    ],
)
def test_a_node_reads_the_objects_its_pods_use(attrs: Attributes) -> None:
    authorize(NODE, attrs, None, RELATED)


@pytest.mark.parametrize(
    ("attrs", "reason"),
    [
        (Attributes("get", "secrets", namespace="d", name="other"),
         "no relationship found between node 'n1' and this object"),
        (Attributes("list", "secrets", namespace="d"), "No Object name found"),
        (Attributes("list", "secrets", field_selector={"metadata.name": "used"}),
         "can only read namespaced object of this type"),
        (Attributes("update", "secrets", namespace="d", name="used"),
         "can only read resources of this type"),
        (Attributes("get", "secrets", subresource="x", namespace="d", name="used"),
         "cannot read subresource"),
    ],
)  # fmt: skip
def test_a_node_reads_no_other(attrs: Attributes, reason: str) -> None:
    with pytest.raises(errors.ForbiddenError) as e:
        authorize(NODE, attrs, None, RELATED)
    assert e.value.message.endswith(f": {reason}")
    authorize(ADMIN, attrs, None)
