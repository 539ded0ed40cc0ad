"""The JSON schema of core/v1 Service as strict pydantic models named after their Go types
(k8s.io/api/core/v1/types.go). Used only to check request bodies. Pure: no I/O.
"""

from __future__ import annotations

from pydantic import Field

from control.validation.schema import (
    Int32,
    Int64,
    IntOrString,
    K8sModel,
    ObjectMeta,
    StrList,
    StrMap,
    Time,
    TypeMeta,
)


class ServicePort(K8sModel):
    name: str | None = None
    protocol: str | None = None
    app_protocol: str | None = None
    port: Int32 | None = None
    target_port: IntOrString | None = None
    node_port: Int32 | None = None


class ClientIPConfig(K8sModel):
    timeout_seconds: Int32 | None = None


class SessionAffinityConfig(K8sModel):
    client_ip: ClientIPConfig | None = Field(default=None, alias="clientIP")


class ServiceSpec(K8sModel):
    ports: list[ServicePort] | None = None
    selector: StrMap | None = None
    cluster_ip: str | None = Field(default=None, alias="clusterIP")
    cluster_ips: StrList | None = Field(default=None, alias="clusterIPs")
    type: str | None = None
    external_ips: StrList | None = Field(default=None, alias="externalIPs")
    session_affinity: str | None = None
    load_balancer_ip: str | None = Field(default=None, alias="loadBalancerIP")
    load_balancer_source_ranges: StrList | None = None
    external_name: str | None = None
    external_traffic_policy: str | None = None
    health_check_node_port: Int32 | None = None
    publish_not_ready_addresses: bool | None = None
    session_affinity_config: SessionAffinityConfig | None = None
    ip_families: StrList | None = None
    ip_family_policy: str | None = None
    allocate_load_balancer_node_ports: bool | None = None
    load_balancer_class: str | None = None
    internal_traffic_policy: str | None = None
    traffic_distribution: str | None = None


class PortStatus(K8sModel):
    port: Int32 | None = None
    protocol: str | None = None
    error: str | None = None


class LoadBalancerIngress(K8sModel):
    ip: str | None = None
    hostname: str | None = None
    ip_mode: str | None = None
    ports: list[PortStatus] | None = None


class LoadBalancerStatus(K8sModel):
    ingress: list[LoadBalancerIngress] | None = None


class Condition(K8sModel):
    type: str | None = None
    status: str | None = None
    observed_generation: Int64 | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class ServiceStatus(K8sModel):
    load_balancer: LoadBalancerStatus | None = None
    conditions: list[Condition] | None = None


class Service(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: ServiceSpec | None = None
    status: ServiceStatus | None = None
