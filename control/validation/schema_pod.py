"""The JSON schema of a core/v1 Pod (spec and status) as strict pydantic models.

Fields tinykube does not act on are still accepted (some as free-form maps) so that real
manifests decode; names follow k8s.io/api/core/v1/types.go. Pure: no I/O.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from control.validation.schema import (
    FreeForm,
    GoType,
    Int32,
    Int64,
    IntOrString,
    K8sModel,
    ObjectMeta,
    Quantity,
    ResourceList,
    StrList,
    StrMap,
    Time,
    TypeMeta,
)


class ContainerPort(K8sModel):
    name: str | None = None
    host_port: Int32 | None = None
    container_port: Int32 | None = None
    protocol: str | None = None
    host_ip: str | None = Field(default=None, alias="hostIP")


class EnvVar(K8sModel):
    name: str | None = None
    value: str | None = None
    value_from: Annotated[FreeForm, GoType("v1.EnvVarSource")] | None = None


class ResourceRequirements(K8sModel):
    limits: ResourceList | None = None
    requests: ResourceList | None = None
    claims: list[FreeForm] | None = None


class VolumeMount(K8sModel):
    name: str | None = None
    read_only: bool | None = None
    recursive_read_only: str | None = None
    mount_path: str | None = None
    sub_path: str | None = None
    mount_propagation: str | None = None
    sub_path_expr: str | None = None


class ExecAction(K8sModel):
    command: StrList | None = None


class HTTPHeader(K8sModel):
    name: str | None = None
    value: str | None = None


class HTTPGetAction(K8sModel):
    path: str | None = None
    port: IntOrString | None = None
    host: str | None = None
    scheme: str | None = None
    http_headers: list[HTTPHeader] | None = None


class TCPSocketAction(K8sModel):
    port: IntOrString | None = None
    host: str | None = None


class GRPCAction(K8sModel):
    port: Int32 | None = None
    service: str | None = None


class Probe(K8sModel):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    initial_delay_seconds: Int32 | None = None
    timeout_seconds: Int32 | None = None
    period_seconds: Int32 | None = None
    success_threshold: Int32 | None = None
    failure_threshold: Int32 | None = None
    termination_grace_period_seconds: Int64 | None = None


class Capabilities(K8sModel):
    add: Annotated[StrList, GoType("[]v1.Capability")] | None = None
    drop: Annotated[StrList, GoType("[]v1.Capability")] | None = None


class SELinuxOptions(K8sModel):
    user: str | None = None
    role: str | None = None
    type: str | None = None
    level: str | None = None


class WindowsSecurityContextOptions(K8sModel):
    gmsa_credential_spec_name: str | None = Field(default=None, alias="gmsaCredentialSpecName")
    gmsa_credential_spec: str | None = Field(default=None, alias="gmsaCredentialSpec")
    run_as_user_name: str | None = None
    host_process: bool | None = None


class SeccompProfile(K8sModel):
    type: str | None = None
    localhost_profile: str | None = None


class AppArmorProfile(K8sModel):
    type: str | None = None
    localhost_profile: str | None = None


class Sysctl(K8sModel):
    name: str | None = None
    value: str | None = None


class SecurityContext(K8sModel):
    capabilities: Capabilities | None = None
    privileged: bool | None = None
    se_linux_options: SELinuxOptions | None = Field(default=None, alias="seLinuxOptions")
    windows_options: WindowsSecurityContextOptions | None = None
    run_as_user: Int64 | None = None
    run_as_group: Int64 | None = None
    run_as_non_root: bool | None = None
    read_only_root_filesystem: bool | None = None
    allow_privilege_escalation: bool | None = None
    proc_mount: str | None = None
    seccomp_profile: SeccompProfile | None = None
    app_armor_profile: AppArmorProfile | None = None


class PodSecurityContext(K8sModel):
    se_linux_options: SELinuxOptions | None = Field(default=None, alias="seLinuxOptions")
    windows_options: WindowsSecurityContextOptions | None = None
    run_as_user: Int64 | None = None
    run_as_group: Int64 | None = None
    run_as_non_root: bool | None = None
    supplemental_groups: list[Int64] | None = None
    supplemental_groups_policy: str | None = None
    fs_group: Int64 | None = None
    sysctls: list[Sysctl] | None = None
    fs_group_change_policy: str | None = None
    seccomp_profile: SeccompProfile | None = None
    app_armor_profile: AppArmorProfile | None = None
    se_linux_change_policy: str | None = Field(default=None, alias="seLinuxChangePolicy")


class Container(K8sModel):
    name: str | None = None
    image: str | None = None
    command: StrList | None = None
    args: StrList | None = None
    working_dir: str | None = None
    ports: list[ContainerPort] | None = None
    env_from: list[FreeForm] | None = None
    env: list[EnvVar] | None = None
    resources: ResourceRequirements | None = None
    resize_policy: list[FreeForm] | None = None
    restart_policy: str | None = None
    volume_mounts: list[VolumeMount] | None = None
    volume_devices: list[FreeForm] | None = None
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Annotated[FreeForm, GoType("v1.Lifecycle")] | None = None
    termination_message_path: str | None = None
    termination_message_policy: str | None = None
    image_pull_policy: str | None = None
    security_context: SecurityContext | None = None
    stdin: bool | None = None
    stdin_once: bool | None = None
    tty: bool | None = None


class EmptyDirVolumeSource(K8sModel):
    medium: str | None = None
    size_limit: Quantity | None = None


class HostPathVolumeSource(K8sModel):
    path: str | None = None
    type: str | None = None


class ConfigMapVolumeSource(K8sModel):
    name: str | None = None
    items: list[FreeForm] | None = None
    default_mode: Int32 | None = None
    optional: bool | None = None


class SecretVolumeSource(K8sModel):
    secret_name: str | None = None
    items: list[FreeForm] | None = None
    default_mode: Int32 | None = None
    optional: bool | None = None


class Volume(K8sModel):
    name: str | None = None
    empty_dir: EmptyDirVolumeSource | None = None
    host_path: HostPathVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    secret: SecretVolumeSource | None = None
    # Accepted so real manifests decode; tinykube does not provide these volumes.
    persistent_volume_claim: FreeForm | None = None
    downward_api: FreeForm | None = Field(default=None, alias="downwardAPI")
    projected: FreeForm | None = None


class Toleration(K8sModel):
    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    toleration_seconds: Int64 | None = None


class LocalObjectReference(K8sModel):
    name: str | None = None


class PodSpec(K8sModel):
    volumes: list[Volume] | None = None
    init_containers: list[Container] | None = None
    containers: list[Container] | None = None
    ephemeral_containers: list[FreeForm] | None = None
    restart_policy: str | None = None
    termination_grace_period_seconds: Int64 | None = None
    active_deadline_seconds: Int64 | None = None
    dns_policy: str | None = None
    node_selector: StrMap | None = None
    service_account_name: str | None = None
    service_account: str | None = None
    automount_service_account_token: bool | None = None
    node_name: str | None = None
    host_network: bool | None = None
    host_pid: bool | None = Field(default=None, alias="hostPID")
    host_ipc: bool | None = Field(default=None, alias="hostIPC")
    share_process_namespace: bool | None = None
    security_context: PodSecurityContext | None = None
    image_pull_secrets: list[LocalObjectReference] | None = None
    hostname: str | None = None
    subdomain: str | None = None
    affinity: Annotated[FreeForm, GoType("v1.Affinity")] | None = None
    scheduler_name: str | None = None
    tolerations: list[Toleration] | None = None
    host_aliases: list[FreeForm] | None = None
    priority_class_name: str | None = None
    priority: Int32 | None = None
    dns_config: FreeForm | None = None
    readiness_gates: list[FreeForm] | None = None
    runtime_class_name: str | None = None
    enable_service_links: bool | None = None
    preemption_policy: str | None = None
    overhead: ResourceList | None = None
    topology_spread_constraints: list[FreeForm] | None = None
    set_hostname_as_fqdn: bool | None = Field(default=None, alias="setHostnameAsFQDN")
    os: FreeForm | None = None
    host_users: bool | None = None
    scheduling_gates: list[FreeForm] | None = None
    resource_claims: list[FreeForm] | None = None
    resources: ResourceRequirements | None = None


class PodCondition(K8sModel):
    type: str | None = None
    observed_generation: Int64 | None = None
    status: str | None = None
    last_probe_time: Time | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class ContainerStateWaiting(K8sModel):
    reason: str | None = None
    message: str | None = None


class ContainerStateRunning(K8sModel):
    started_at: Time | None = None


class ContainerStateTerminated(K8sModel):
    exit_code: Int32 | None = None
    signal: Int32 | None = None
    reason: str | None = None
    message: str | None = None
    started_at: Time | None = None
    finished_at: Time | None = None
    container_id: str | None = Field(default=None, alias="containerID")


class ContainerState(K8sModel):
    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(K8sModel):
    name: str | None = None
    state: ContainerState | None = None
    last_state: ContainerState | None = None
    ready: bool | None = None
    restart_count: Int32 | None = None
    image: str | None = None
    image_id: str | None = Field(default=None, alias="imageID")
    container_id: str | None = Field(default=None, alias="containerID")
    started: bool | None = None
    allocated_resources: ResourceList | None = None
    resources: FreeForm | None = None
    volume_mounts: list[FreeForm] | None = None
    user: FreeForm | None = None
    allocated_resources_status: list[FreeForm] | None = None
    stop_signal: str | None = None


class PodIP(K8sModel):
    ip: str | None = None


class PodStatus(K8sModel):
    observed_generation: Int64 | None = None
    phase: str | None = None
    conditions: list[PodCondition] | None = None
    message: str | None = None
    reason: str | None = None
    nominated_node_name: str | None = None
    host_ip: str | None = Field(default=None, alias="hostIP")
    host_ips: list[PodIP] | None = Field(default=None, alias="hostIPs")
    pod_ip: str | None = Field(default=None, alias="podIP")
    pod_ips: list[PodIP] | None = Field(default=None, alias="podIPs")
    start_time: Time | None = None
    init_container_statuses: list[ContainerStatus] | None = None
    container_statuses: list[ContainerStatus] | None = None
    ephemeral_container_statuses: list[ContainerStatus] | None = None
    qos_class: str | None = None
    resize: str | None = None
    resource_claim_statuses: list[FreeForm] | None = None


class Pod(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None
    status: PodStatus | None = None
