"""Typed views of the objects the control plane reasons about most (Pod, Node, Deployment,
ReplicaSet), as ``TypedDict``s over the JSON the API serves, so mypy checks field names where code
reads them. Every field is optional, as in the JSON. Views only: objects stay plain dicts (cast
an object you have validated, e.g. ``cast(Pod, obj)``). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, cast


class OwnerReference(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool
    blockOwnerDeletion: bool


class ObjectMeta(TypedDict, total=False):
    name: str
    generateName: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str
    deletionGracePeriodSeconds: int
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[OwnerReference]
    finalizers: list[str]


class Condition(TypedDict, total=False):
    """A status condition (PodCondition, NodeCondition, DeploymentCondition, ...)."""

    type: str
    status: str  # "True", "False" or "Unknown"
    reason: str
    message: str
    lastTransitionTime: str
    lastProbeTime: str | None
    lastHeartbeatTime: str
    lastUpdateTime: str


class LabelSelector(TypedDict, total=False):
    matchLabels: dict[str, str]
    matchExpressions: list[dict[str, Any]]


class Toleration(TypedDict, total=False):
    key: str
    operator: str
    value: str
    effect: str
    tolerationSeconds: int


class Taint(TypedDict, total=False):
    key: str
    value: str
    effect: str
    timeAdded: str


class Container(TypedDict, total=False):
    name: str
    image: str
    command: list[str]
    args: list[str]
    env: list[dict[str, Any]]
    ports: list[dict[str, Any]]
    resources: dict[str, dict[str, Any]]
    imagePullPolicy: str


class PodSpec(TypedDict, total=False):
    nodeName: str
    nodeSelector: dict[str, str]
    schedulerName: str
    priority: int
    containers: list[Container]
    initContainers: list[Container]
    tolerations: list[Toleration]
    restartPolicy: str
    terminationGracePeriodSeconds: int
    affinity: dict[str, Any]


class PodStatus(TypedDict, total=False):
    phase: str
    conditions: list[Condition]
    reason: str
    message: str
    hostIP: str
    podIP: str
    startTime: str
    qosClass: str
    containerStatuses: list[dict[str, Any]]


class Pod(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: PodSpec
    status: PodStatus


class PodTemplateSpec(TypedDict, total=False):
    metadata: ObjectMeta
    spec: PodSpec


class NodeSpec(TypedDict, total=False):
    podCIDR: str
    podCIDRs: list[str]
    unschedulable: bool
    taints: list[Taint]


class NodeStatus(TypedDict, total=False):
    capacity: dict[str, str]
    allocatable: dict[str, str]
    conditions: list[Condition]
    addresses: list[dict[str, str]]
    daemonEndpoints: dict[str, Any]
    nodeInfo: dict[str, str]


class Node(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: NodeSpec
    status: NodeStatus


class ReplicaSetSpec(TypedDict, total=False):
    replicas: int
    minReadySeconds: int
    selector: LabelSelector
    template: PodTemplateSpec


class ReplicaSetStatus(TypedDict, total=False):
    replicas: int
    fullyLabeledReplicas: int
    readyReplicas: int
    availableReplicas: int
    observedGeneration: int
    conditions: list[Condition]


class ReplicaSet(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: ReplicaSetSpec
    status: ReplicaSetStatus


class DeploymentSpec(TypedDict, total=False):
    replicas: int
    selector: LabelSelector
    template: PodTemplateSpec
    strategy: dict[str, Any]
    minReadySeconds: int
    revisionHistoryLimit: int
    paused: bool
    progressDeadlineSeconds: int


class DeploymentStatus(TypedDict, total=False):
    observedGeneration: int
    replicas: int
    updatedReplicas: int
    readyReplicas: int
    availableReplicas: int
    unavailableReplicas: int
    conditions: list[Condition]
    collisionCount: int


class Deployment(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: DeploymentSpec
    status: DeploymentStatus


def as_pod(obj: Mapping[str, Any]) -> Pod:
    """The typed view of a Pod the API has validated (no check, no copy)."""
    return cast(Pod, obj)


def as_node(obj: Mapping[str, Any]) -> Node:
    """The typed view of a Node the API has validated (no check, no copy)."""
    return cast(Node, obj)


def as_replicaset(obj: Mapping[str, Any]) -> ReplicaSet:
    """The typed view of a ReplicaSet the API has validated (no check, no copy)."""
    return cast(ReplicaSet, obj)


def as_deployment(obj: Mapping[str, Any]) -> Deployment:
    """The typed view of a Deployment the API has validated (no check, no copy)."""
    return cast(Deployment, obj)
