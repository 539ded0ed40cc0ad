"""The JSON schema of core/v1 Endpoints, as strict pydantic models named after their Go types
(k8s.io/api/core/v1/types.go). Used only to check request bodies. Pure: no I/O.
"""

from __future__ import annotations

from control.validation.schema import Int32, K8sModel, ObjectMeta, ObjectReference, TypeMeta


class EndpointAddress(K8sModel):
    ip: str | None = None
    hostname: str | None = None
    node_name: str | None = None
    target_ref: ObjectReference | None = None


class EndpointPort(K8sModel):
    name: str | None = None
    port: Int32 | None = None
    protocol: str | None = None
    app_protocol: str | None = None


class EndpointSubset(K8sModel):
    addresses: list[EndpointAddress] | None = None
    not_ready_addresses: list[EndpointAddress] | None = None
    ports: list[EndpointPort] | None = None


class Endpoints(TypeMeta):
    metadata: ObjectMeta | None = None
    subsets: list[EndpointSubset] | None = None
