"""The JSON schema of Node, Namespace, Event (core/v1) and Lease (coordination.k8s.io/v1).

Strict pydantic models, named after their Go types, used only to check request bodies.
Pure: no I/O.
"""

from __future__ import annotations

from pydantic import Field

from control.validation.schema import (
    FreeForm,
    Int32,
    K8sModel,
    MicroTime,
    ObjectMeta,
    ObjectReference,
    ResourceList,
    StrList,
    Time,
    TypeMeta,
)


class Taint(K8sModel):
    key: str | None = None
    value: str | None = None
    effect: str | None = None
    time_added: Time | None = None


class NodeSpec(K8sModel):
    pod_cidr: str | None = Field(default=None, alias="podCIDR")
    pod_cidrs: StrList | None = Field(default=None, alias="podCIDRs")
    provider_id: str | None = Field(default=None, alias="providerID")
    unschedulable: bool | None = None
    taints: list[Taint] | None = None
    config_source: FreeForm | None = None
    external_id: str | None = Field(default=None, alias="externalID")


class NodeCondition(K8sModel):
    type: str | None = None
    status: str | None = None
    last_heartbeat_time: Time | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class NodeAddress(K8sModel):
    type: str | None = None
    address: str | None = None


class DaemonEndpoint(K8sModel):
    port: Int32 | None = Field(default=None, alias="Port")


class NodeDaemonEndpoints(K8sModel):
    kubelet_endpoint: DaemonEndpoint | None = None


class NodeSystemInfo(K8sModel):
    machine_id: str | None = Field(default=None, alias="machineID")
    system_uuid: str | None = Field(default=None, alias="systemUUID")
    boot_id: str | None = Field(default=None, alias="bootID")
    kernel_version: str | None = None
    os_image: str | None = None
    container_runtime_version: str | None = None
    kubelet_version: str | None = None
    kube_proxy_version: str | None = None
    operating_system: str | None = None
    architecture: str | None = None
    swap: FreeForm | None = None


class NodeStatus(K8sModel):
    capacity: ResourceList | None = None
    allocatable: ResourceList | None = None
    phase: str | None = None
    conditions: list[NodeCondition] | None = None
    addresses: list[NodeAddress] | None = None
    daemon_endpoints: NodeDaemonEndpoints | None = None
    node_info: NodeSystemInfo | None = None
    images: list[FreeForm] | None = None
    volumes_in_use: StrList | None = None
    volumes_attached: list[FreeForm] | None = None
    config: FreeForm | None = None
    runtime_handlers: list[FreeForm] | None = None
    features: FreeForm | None = None


class Node(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: NodeSpec | None = None
    status: NodeStatus | None = None


class NamespaceSpec(K8sModel):
    finalizers: StrList | None = None


class NamespaceStatus(K8sModel):
    phase: str | None = None
    conditions: list[FreeForm] | None = None


class Namespace(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: NamespaceSpec | None = None
    status: NamespaceStatus | None = None


class EventSource(K8sModel):
    component: str | None = None
    host: str | None = None


class EventSeries(K8sModel):
    count: Int32 | None = None
    last_observed_time: MicroTime | None = None


class Event(TypeMeta):
    metadata: ObjectMeta | None = None
    involved_object: ObjectReference | None = None
    reason: str | None = None
    message: str | None = None
    source: EventSource | None = None
    first_timestamp: Time | None = None
    last_timestamp: Time | None = None
    count: Int32 | None = None
    type: str | None = None
    event_time: MicroTime | None = None
    series: EventSeries | None = None
    action: str | None = None
    related: ObjectReference | None = None
    reporting_component: str | None = None
    reporting_instance: str | None = None


class LeaseSpec(K8sModel):
    holder_identity: str | None = None
    lease_duration_seconds: Int32 | None = None
    acquire_time: MicroTime | None = None
    renew_time: MicroTime | None = None
    lease_transitions: Int32 | None = None
    strategy: str | None = None
    preferred_holder: str | None = None


class Lease(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: LeaseSpec | None = None
