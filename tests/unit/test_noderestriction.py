"""NodeRestriction: what a node's credential may write in its Node and its pods, and why not."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from common import errors
from common.resources import must
from control.registry import noderestriction as nr

TAINT = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}


def node(name: str = "n1", *, labels: Any = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "annotations": {"tinykube.io/node-api": "https://a:1"}}
    if labels is not None:
        meta["labels"] = labels
    return {"metadata": meta, "spec": spec}


def changed(obj: dict[str, Any], **edits: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    for path, value in edits.items():
        where = out
        *parents, last = path.split("__")
        for p in parents:
            where = where.setdefault(p, {})
        where[last] = value
    return out


STORED = node(
    labels={"kubernetes.io/hostname": "n1", "node-role.kubernetes.io/db": ""},
    taints=[TAINT],
    podCIDR="10.244.1.0/24",
    podCIDRs=["10.244.1.0/24"],
)

UPDATES_REFUSED = [
    (changed(STORED, spec__taints=[]), 'node "n1" is not allowed to modify taints'),
    (changed(STORED, spec__taints=[{**TAINT, "effect": "PreferNoSchedule"}]), "taints"),
    (
        changed(STORED, metadata__labels={"kubernetes.io/hostname": "n1"}),
        "is not allowed to modify labels: node-role.kubernetes.io/db",
    ),
    (
        changed(
            STORED,
            metadata__labels={
                **STORED["metadata"]["labels"],
                "node-role.kubernetes.io/control-plane": "",
                "node-restriction.kubernetes.io/trusted": "yes",
                "sub.k8s.io/x": "y",
            },
        ),
        "is not allowed to modify labels: node-restriction.kubernetes.io/trusted, "
        "node-role.kubernetes.io/control-plane, sub.k8s.io/x",
    ),
    (
        changed(
            STORED,
            metadata__labels={
                **STORED["metadata"]["labels"],
                "a.node-restriction.kubernetes.io/x": "1",
            },
        ),
        "is not allowed to modify labels: a.node-restriction.kubernetes.io/x",
    ),
    (changed(STORED, spec__podCIDR="10.244.9.0/24"), "not allowed to modify spec.podCIDR"),
    (changed(STORED, spec__podCIDRs=["10.244.1.0/24", "fd00::/64"]), "modify spec.podCIDRs"),
    (changed(STORED, metadata__name="n2"), 'node "n1" is not allowed to modify node "n2"'),
]


@pytest.mark.parametrize(("new", "reason"), UPDATES_REFUSED)
def test_update_refused(new: dict[str, Any], reason: str) -> None:
    found = nr.refusal("n1", "nodes", "", new, STORED)
    assert found is not None and reason in found


UPDATES_ALLOWED = [
    changed(STORED, metadata__annotations={"tinykube.io/node-api": "https://b:2"}),
    changed(
        STORED,
        metadata__labels={
            **STORED["metadata"]["labels"],
            "kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
            "tinykube.io/node": "true",
            "node.kubernetes.io/instance-type": "big",
            "x.kubelet.kubernetes.io/y": "1",
            "example.com/z": "2",
        },
    ),
    changed(STORED, spec__unschedulable=True),
    changed(STORED, status={"conditions": [{"type": "Ready", "status": "True"}]}),
]


@pytest.mark.parametrize("new", UPDATES_ALLOWED)
def test_update_allowed(new: dict[str, Any]) -> None:
    assert nr.refusal("n1", "nodes", "", new, STORED) is None
    assert nr.refusal("n1", "nodes", "status", new, STORED) is None


def test_no_taints_and_empty_taints_are_the_same() -> None:
    assert nr.refusal("n1", "nodes", "", node(taints=[]), node()) is None
    assert nr.refusal("n1", "nodes", "", node(), node(taints=None)) is None


def test_a_node_may_register_with_taints_and_kubelet_labels() -> None:
    new = node(labels={"kubernetes.io/hostname": "n1", "tinykube.io/node": "true"}, taints=[TAINT])
    assert nr.refusal("n1", "nodes", "", new, None) is None


@pytest.mark.parametrize(
    ("new", "reason"),
    [
        (node("n2"), 'node "n1" is not allowed to modify node "n2"'),
        (
            node(labels={"node-role.kubernetes.io/master": "", "kubernetes.io/hostname": "n1"}),
            'node "n1" is not allowed to set the following labels: node-role.kubernetes.io/master',
        ),
        (node(podCIDR="10.244.0.0/24"), 'node "n1" is not allowed to set spec.podCIDR'),
    ],
)
def test_create_refused(new: dict[str, Any], reason: str) -> None:
    assert nr.refusal("n1", "nodes", "", new, None) == reason


def test_pod_status_only_of_pods_bound_to_the_node() -> None:
    pod = {"metadata": {"name": "p", "labels": {"a": "b"}}, "spec": {"nodeName": "n1"}}
    assert nr.refusal("n1", "pods", "status", pod, pod) is None
    theirs = changed(pod, spec__nodeName="n2")
    assert nr.refusal("n1", "pods", "status", theirs, theirs) == (
        'node "n1" can only update pod status for pods with spec.nodeName set to itself'
    )
    relabelled = changed(pod, metadata__labels={"a": "c"})
    assert nr.refusal("n1", "pods", "status", relabelled, pod) == (
        'node "n1" cannot update labels through pod status'
    )


def test_admit_judges_only_requests_of_a_node() -> None:
    nodes = must("nodes")
    new = changed(STORED, spec__taints=[])
    nr.admit(nodes, new, STORED)  # an admin's request, or a controller's
    with nr.requested_by("n1"), pytest.raises(errors.ForbiddenError) as e:
        nr.admit(nodes, new, STORED)
    assert e.value.message == 'nodes "n1" is forbidden: node "n1" is not allowed to modify taints'
    assert e.value.to_status()["details"] == {"name": "n1", "kind": "nodes"}
    with nr.requested_by(None):
        nr.admit(nodes, new, STORED)
    nr.admit(nodes, new, STORED)  # the mark ends with its block


def test_modified_labels() -> None:
    assert nr.modified_labels({"a": "1", "b": "", "c": "3"}, {"a": "1", "c": "4", "d": ""}) == {
        "b",
        "c",
        "d",
    }
