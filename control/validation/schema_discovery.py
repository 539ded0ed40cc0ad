"""The JSON schema of discovery.k8s.io/v1 EndpointSlice, as strict pydantic models named after
their Go types (k8s.io/api/discovery/v1/types.go). Used only to check request bodies. Pure.
"""

from __future__ import annotations

from control.validation.schema import (
    Int32,
    K8sModel,
    ObjectMeta,
    ObjectReference,
    StrList,
    StrMap,
    TypeMeta,
)


class EndpointConditions(K8sModel):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class ForZone(K8sModel):
    name: str | None = None


class ForNode(K8sModel):
    name: str | None = None


class EndpointHints(K8sModel):
    for_zones: list[ForZone] | None = None
    for_nodes: list[ForNode] | None = None


class Endpoint(K8sModel):
    addresses: StrList | None = None
    conditions: EndpointConditions | None = None
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    deprecated_topology: StrMap | None = None
    node_name: str | None = None
    zone: str | None = None
    hints: EndpointHints | None = None


class EndpointPort(K8sModel):
    name: str | None = None
    protocol: str | None = None
    port: Int32 | None = None
    app_protocol: str | None = None


class EndpointSlice(TypeMeta):
    metadata: ObjectMeta | None = None
    address_type: str | None = None
    endpoints: list[Endpoint] | None = None
    ports: list[EndpointPort] | None = None
