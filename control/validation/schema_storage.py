"""The JSON schema of core/v1 PersistentVolume and PersistentVolumeClaim and storage.k8s.io/v1
StorageClass as strict pydantic models named after their Go types. Volume sources tinykube does
not provide are accepted as free-form objects so real manifests decode. Pure.
"""

from __future__ import annotations

from pydantic import Field

from control.validation.schema import (
    FreeForm,
    K8sModel,
    LabelSelector,
    ObjectMeta,
    ObjectReference,
    ResourceList,
    StrList,
    StrMap,
    Time,
    TypeMeta,
)


class NodeSelectorRequirement(K8sModel):
    key: str | None = None
    operator: str | None = None
    values: StrList | None = None


class NodeSelectorTerm(K8sModel):
    match_expressions: list[NodeSelectorRequirement] | None = None
    match_fields: list[NodeSelectorRequirement] | None = None


class NodeSelector(K8sModel):
    node_selector_terms: list[NodeSelectorTerm] | None = None


class VolumeNodeAffinity(K8sModel):
    required: NodeSelector | None = None


class LocalVolumeSource(K8sModel):
    path: str | None = None
    fs_type: str | None = None


class HostPathVolumeSource(K8sModel):
    path: str | None = None
    type: str | None = None


class PersistentVolumeSpec(K8sModel):
    capacity: ResourceList | None = None
    access_modes: StrList | None = None
    claim_ref: ObjectReference | None = None
    persistent_volume_reclaim_policy: str | None = None
    storage_class_name: str | None = None
    mount_options: StrList | None = None
    volume_mode: str | None = None
    node_affinity: VolumeNodeAffinity | None = None
    volume_attributes_class_name: str | None = None
    host_path: HostPathVolumeSource | None = None
    local: LocalVolumeSource | None = None
    nfs: FreeForm | None = None
    csi: FreeForm | None = None
    iscsi: FreeForm | None = None
    fc: FreeForm | None = None


class PersistentVolumeStatus(K8sModel):
    phase: str | None = None
    message: str | None = None
    reason: str | None = None
    last_phase_transition_time: Time | None = None


class PersistentVolume(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: PersistentVolumeSpec | None = None
    status: PersistentVolumeStatus | None = None


class VolumeResourceRequirements(K8sModel):
    requests: ResourceList | None = None
    limits: ResourceList | None = None


class PersistentVolumeClaimSpec(K8sModel):
    access_modes: StrList | None = None
    selector: LabelSelector | None = None
    resources: VolumeResourceRequirements | None = None
    volume_name: str | None = None
    storage_class_name: str | None = None
    volume_mode: str | None = None
    data_source: FreeForm | None = None
    data_source_ref: FreeForm | None = None
    volume_attributes_class_name: str | None = None


class PersistentVolumeClaimStatus(K8sModel):
    phase: str | None = None
    access_modes: StrList | None = None
    capacity: ResourceList | None = None
    conditions: list[FreeForm] | None = None
    allocated_resources: ResourceList | None = None
    allocated_resource_statuses: StrMap | None = None
    current_volume_attributes_class_name: str | None = None
    modify_volume_status: FreeForm | None = None


class PersistentVolumeClaim(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: PersistentVolumeClaimSpec | None = None
    status: PersistentVolumeClaimStatus | None = None


class StorageClass(TypeMeta):
    metadata: ObjectMeta | None = None
    provisioner: str | None = None
    parameters: StrMap | None = None
    reclaim_policy: str | None = None
    mount_options: StrList | None = None
    allow_volume_expansion: bool | None = None
    volume_binding_mode: str | None = None
    allowed_topologies: list[FreeForm] | None = Field(default=None)
