"""What each kind does on create, update and delete, as kube-apiserver's per-kind strategies: one
``Strategy`` object per kind (server-owned fields, defaults, mutating admission, warnings, the
status subresource, graceful deletion, the fields a field selector may use), looked up in one
table by ``strategy``. Adding a kind means adding a strategy here (if its rules differ from the
default one), a schema and a printer. Pure: objects in, objects out.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import random
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import Any

from common import errors, fastjson, meta
from common.defaults import default_pod
from common.errors import Cause
from common.fieldselectors import field_labels, object_fields
from common.qos import qos_class
from common.resources import ResourceType, lookup
from common.statefulsets import default_statefulset
from common.wellknown import (
    NAMESPACE_NAME_LABEL,
    NODE_LEASE_NAMESPACE,
    NOT_READY_TAINT,
    TEMPLATE_GENERATION,
    UNREACHABLE_TAINT,
)
from common.workloads import default_workload
from control.registry import priority, serviceaccounts
from control.registry.allocation import ServiceRanges
from control.validation import validate
from control.validation.daemonset import validate_daemonset_status
from control.validation.podupdate import validate_ephemeral_update

Obj = dict[str, Any]

# Namespaces that exist in every cluster and may not be deleted (Kubernetes forbids it too).
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", NODE_LEASE_NAMESPACE)
IMMORTAL_NAMESPACES = SYSTEM_NAMESPACES
TERMINAL_PHASES = ("Succeeded", "Failed")
# Pod spec fields tinykube stores but does not act on yet; named in a Warning header.
POD_FIELDS_NOT_ACTED_ON: tuple[str, ...] = ()
CONTAINER_FIELDS_NOT_ACTED_ON: tuple[str, ...] = ()
# Volume types the agent provides (see agent/volumeplan.py); any other is named in a Warning.
VOLUMES_ACTED_ON = (
    "emptyDir", "configMap", "secret", "downwardAPI", "projected", "hostPath",
    "persistentVolumeClaim",
)  # fmt: skip


def selectable_fields(rt: ResourceType) -> frozenset[str]:
    return field_labels(rt.kind)


def field_values(rt: ResourceType, obj: Obj) -> dict[str, str]:
    return object_fields(rt.kind, obj)


def has_status(rt: ResourceType) -> bool:
    """Whether ``status`` is written only through the ``/status`` subresource."""
    return "status" in rt.subresources


@dataclass(frozen=True)
class Admission:
    """The cluster's settings of the mutating admission steps a strategy runs."""

    # (not-ready, unreachable) seconds of DefaultTolerationSeconds; None turns it off.
    default_tolerations: tuple[int, int] | None = None
    # The Lease duration the server hands each node now (``control.registry.nodeleases``).
    node_lease_duration: Callable[[], int] | None = None
    # Where Services' ClusterIPs and node ports come from.
    service_ranges: ServiceRanges = field(default_factory=ServiceRanges)
    # The name of the cluster's default StorageClass now (DefaultStorageClass admission).
    default_storage_class: Callable[[], str | None] | None = None
    # The ServiceAccount admission plugin, when enabled: a ServiceAccount by (namespace, name).
    service_account: Callable[[str, str], Obj | None] | None = None
    # The Priority admission plugin, when enabled: the cluster's PriorityClasses, as this
    # process's watch cache holds them (``fresh``: as the store holds them now).
    priority_classes: Callable[..., list[Obj]] | None = None
    # The TaintNodesByCondition admission plugin: a new Node is tainted not-ready (NoSchedule).
    taint_new_nodes: bool = False


class Strategy:
    """The rules of a kind with none of its own: server-owned metadata, ``generation`` counted
    from ``spec``, status kept from the store when the kind has a status subresource."""

    # The field a list or watch may be narrowed to by a store index (pods: spec.nodeName).
    indexed_field: str | None = None
    # A namespace: creates inside one that was just deleted read it from the store for a while,
    # not from a cache that may not have seen the deletion (NamespaceLifecycle's live lookup).
    holds_content: bool = False
    always_generation = False
    # Whether objects of the kind hold unique values (store claims: ``allocate``, ``claims``).
    holds_claims = False

    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        """Set the server-owned metadata and reset what a client may not choose."""
        m = meta.meta(obj)
        m["uid"] = meta.new_uid()
        m["creationTimestamp"] = meta.timestamp(now)
        for key in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
            m.pop(key, None)
        if "spec" in obj or self.always_generation:
            m["generation"] = 1

    def prepare_update(self, rt: ResourceType, new: Obj, old: Obj) -> None:
        """Carry the server-owned fields over from the stored object."""
        nm, om = meta.meta(new), meta.meta(old)
        # An update without a resourceVersion is unconditional (Kubernetes allows it here).
        nm.setdefault("resourceVersion", om.get("resourceVersion"))
        for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if key in om:
                nm[key] = om[key]
            else:
                nm.pop(key, None)
        if has_status(rt):
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        self.default(new)
        if "generation" in om:
            changed = new.get("spec") != old.get("spec")
            nm["generation"] = int(om["generation"]) + (1 if changed else 0)

    def default(self, obj: Obj) -> None:
        """The kind's defaults, applied on create and on every update."""

    def validate(self, rt: ResourceType, obj: Obj, old: Obj | None) -> list[errors.Cause]:
        """What is wrong with the object (and with the change from ``old``): the kind's schema
        and rules in ``control.validation``."""
        return validate(rt.kind, obj, old)

    def admit(self, obj: Obj, admission: Admission) -> None:
        """The mutating admission of a create or update of the object itself."""

    def admit_create(self, obj: Obj, namespace: str, admission: Admission) -> None:
        """The mutating admission of a create only (after ``admit``)."""

    def warnings(self, obj: Obj) -> list[str]:
        """``Warning`` header texts for a create."""
        return []

    def companions(self, created: Obj, admission: Admission) -> list[tuple[str, str, Obj]]:
        """Objects written right after a create of this kind, by (plural, namespace, object)
        (one that exists already is left as it is)."""
        return []

    def allocate(
        self,
        obj: Obj,
        old: Obj | None,
        admission: Admission,
        taken: Callable[[str], Container[str]],
        rng: random.Random,
    ) -> set[str]:
        """Fill in the unique values the object lacks, from those not ``taken`` (by pool);
        raise the 422 of a requested one out of range; return the claims the client asked
        for (a taken one is the client's error, a taken pick is picked again)."""
        return set()

    def claims(self, obj: Obj) -> list[str] | None:
        """The store claims the object holds (None: its kind holds none)."""
        return None

    def claim_taken(self, obj: Obj, claim: str) -> errors.ApiError:
        """The error of a requested value another object holds."""
        return errors.ConflictError(f"{claim} is already allocated")

    def validate_status(self, new: Obj, old: Obj) -> list[Cause]:
        """Default then check a status written through ``/status`` (in place)."""
        return []

    def check_deletable(self, name: str) -> None:
        """Raise when an object of this kind and name may never be deleted."""

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """Seconds a deletion waits before the object goes (0: at once)."""
        return 0

    def mark_deleting(self, obj: Obj) -> None:
        """What a deletion that must wait changes besides the deletion timestamp."""


class PodStrategy(Strategy):
    indexed_field = "spec.nodeName"
    always_generation = True

    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        self.default(obj)
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj)}

    def default(self, obj: Obj) -> None:
        default_pod(obj)

    def validate(self, rt: ResourceType, obj: Obj, old: Obj | None) -> list[errors.Cause]:
        """A new pod is validated as it stands: ``prepare_create`` and ``admit_create``
        defaulted it, so defaulting a copy again would change nothing."""
        return validate(rt.kind, obj, old, defaulted=True)

    def admit(self, obj: Obj, admission: Admission) -> None:
        if admission.default_tolerations is not None:
            add_default_tolerations(obj, *admission.default_tolerations)

    def admit_create(self, obj: Obj, namespace: str, admission: Admission) -> None:
        lookup = admission.service_account
        if lookup is not None:
            serviceaccounts.admit(obj, namespace, lambda name: lookup(namespace, name))
        listed = admission.priority_classes
        if listed is not None:
            priority.admit_pod(obj, listed(), lambda: listed(fresh=True))
        # What admission added is defaulted like the rest (a no-op for any pod that can be
        # valid: a spec the service account plugin had to make is still refused), so the
        # pod's validation needs no defaulted copy.
        self.default(obj)

    def warnings(self, obj: Obj) -> list[str]:
        return pod_warnings(obj)

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        return pod_grace_period(obj, requested)


class NodeStrategy(Strategy):
    always_generation = True

    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        obj.setdefault("spec", {})

    def admit_create(self, obj: Obj, namespace: str, admission: Admission) -> None:
        """TaintNodesByCondition: a Node is created with the not-ready NoSchedule taint, so no
        pod is scheduled to it before the node lifecycle controller has read its conditions
        (it takes the taint off once the node reports Ready)."""
        spec = obj.get("spec")
        if not admission.taint_new_nodes or not isinstance(spec, dict):
            return
        taints = spec.get("taints")
        if taints is None:
            taints = spec["taints"] = []
        if not isinstance(taints, list):
            return  # validation refuses it
        wanted = {"key": NOT_READY_TAINT, "effect": "NoSchedule"}
        if not any(isinstance(t, dict) and t.get("key") == wanted["key"]
                   and t.get("effect") == wanted["effect"] for t in taints):  # fmt: skip
            taints.append(wanted)


class NamespaceStrategy(Strategy):
    holds_content = True

    def companions(self, created: Obj, admission: Admission) -> list[tuple[str, str, Obj]]:
        """With service accounts on, a new namespace gets its ``default`` ServiceAccount in the
        same request, so a pod created right after its namespace is admitted even when the
        service-account controller (which keeps the account afterwards) is slow to act."""
        if admission.service_account is None:
            return []
        name = str(created["metadata"]["name"])
        account = {"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": "default", "namespace": name}}  # fmt: skip
        return [("serviceaccounts", name, account)]

    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}
        self.default(obj)

    def default(self, obj: Obj) -> None:
        """Every namespace is labelled with its own name (kube-apiserver's defaulting and
        Canonicalize): selectors can then pick namespaces by name."""
        m = meta.meta(obj)
        if m.get("name"):
            labels = m.get("labels")
            if not isinstance(labels, dict):
                labels = m["labels"] = {}
            labels[NAMESPACE_NAME_LABEL] = m["name"]

    def prepare_update(self, rt: ResourceType, new: Obj, old: Obj) -> None:
        super().prepare_update(rt, new, old)
        new["spec"] = copy.deepcopy(old.get("spec") or {})  # finalizers: only via /finalize

    def check_deletable(self, name: str) -> None:
        check_namespace_deletable(name)

    def mark_deleting(self, obj: Obj) -> None:
        obj.setdefault("status", {})["phase"] = "Terminating"


class LeaseStrategy(Strategy):
    """A node's Lease (namespace ``kube-node-lease``) gets the duration the server hands out,
    whatever the client sent: the agent renews at a quarter of it."""

    def admit(self, obj: Obj, admission: Admission) -> None:
        namespace = (obj.get("metadata") or {}).get("namespace")
        if admission.node_lease_duration is None or namespace != NODE_LEASE_NAMESPACE:
            return
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        spec["leaseDurationSeconds"] = admission.node_lease_duration()


class WorkloadStrategy(Strategy):
    """Deployments and ReplicaSets: apps/v1 defaults; status only from their controllers."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        self.default(obj)
        obj["status"] = {}

    def default(self, obj: Obj) -> None:
        default_workload(self.kind, obj)


class StatefulSetStrategy(WorkloadStrategy):
    """StatefulSets: apps/v1 defaults (SetDefaults_StatefulSet); status only from the
    controller."""

    def __init__(self) -> None:
        super().__init__("StatefulSet")

    def default(self, obj: Obj) -> None:
        default_statefulset(obj)


class DaemonSetStrategy(WorkloadStrategy):
    """DaemonSets: apps/v1 defaults, and the template generation kube-apiserver keeps in the
    ``deprecated.daemonset.template.generation`` annotation: 1 on create, one more on each
    update that changes the pod template, never chosen by the client."""

    def __init__(self) -> None:
        super().__init__("DaemonSet")

    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        _set_template_generation(obj, 1)

    def prepare_update(self, rt: ResourceType, new: Obj, old: Obj) -> None:
        super().prepare_update(rt, new, old)
        before = template_generation(old)
        changed = (new.get("spec") or {}).get("template") != (old.get("spec") or {}).get("template")
        _set_template_generation(new, before + 1 if changed else before)

    def validate_status(self, new: Obj, old: Obj) -> list[Cause]:
        return validate_daemonset_status(new, old)


def template_generation(obj: Obj) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION)
    try:
        return int(str(value))
    except ValueError:
        return 0


def _set_template_generation(obj: Obj, generation: int) -> None:
    m = meta.meta(obj)
    annotations = m.get("annotations")
    if not isinstance(annotations, dict):
        annotations = m["annotations"] = {}
    annotations[TEMPLATE_GENERATION] = str(generation)


class SecretStrategy(Strategy):
    """``type`` defaults to Opaque; ``stringData`` is folded into ``data`` (base64) before the
    object is validated or stored, its keys winning, as the v1 conversion does."""

    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        self.default(obj)

    def default(self, obj: Obj) -> None:
        fold_string_data(obj)
        if not obj.get("type"):
            obj["type"] = "Opaque"


def fold_string_data(secret: Obj) -> None:
    """Move a Secret's ``stringData`` into ``data`` as base64 (the write-only convenience field)."""
    strings = secret.pop("stringData", None)
    if not strings:
        return
    data = dict(secret.get("data") or {})
    for key, value in strings.items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    secret["data"] = data


DEFAULT = Strategy()
STRATEGIES: dict[tuple[str, str], Strategy] = {
    ("", "pods"): PodStrategy(),
    ("", "nodes"): NodeStrategy(),
    ("", "namespaces"): NamespaceStrategy(),
    ("coordination.k8s.io", "leases"): LeaseStrategy(),
    ("apps", "deployments"): WorkloadStrategy("Deployment"),
    ("apps", "replicasets"): WorkloadStrategy("ReplicaSet"),
    ("", "secrets"): SecretStrategy(),
    ("apps", "statefulsets"): StatefulSetStrategy(),
    ("apps", "daemonsets"): DaemonSetStrategy(),
}


def strategy(rt: ResourceType) -> Strategy:
    """The strategy of a kind (the default one for kinds with no rules of their own)."""
    return STRATEGIES.get((rt.group, rt.plural), DEFAULT)


def add_default_tolerations(pod: Obj, not_ready_seconds: int, unreachable_seconds: int) -> None:
    """Kubernetes' DefaultTolerationSeconds admission: a pod that does not already tolerate the
    node controller's ``not-ready`` and ``unreachable`` NoExecute taints gets a toleration of
    each for that many seconds: how long it stays on a lost node before it is evicted."""
    spec = pod.setdefault("spec", {})
    tolerations = list(spec.get("tolerations") or [])
    covered = {NOT_READY_TAINT: False, UNREACHABLE_TAINT: False}
    for t in tolerations:
        if t.get("effect") in (None, "", "NoExecute"):
            for key in covered:
                if t.get("key") in (None, "", key):
                    covered[key] = True
    for key, seconds in ((NOT_READY_TAINT, not_ready_seconds),
                         (UNREACHABLE_TAINT, unreachable_seconds)):  # fmt: skip
        if not covered[key]:
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": seconds})  # fmt: skip
    spec["tolerations"] = tolerations


def prepare_status_update(new: Obj, old: Obj) -> Obj:
    """``PUT .../status``: the stored object with only its status replaced (keys in the stored
    order). JSON-born objects: a round trip through JSON copies them twice as fast as deepcopy,
    and the stored status, replaced anyway, is not copied."""
    kept = _json_copy({key: value for key, value in old.items() if key != "status"})
    status = _json_copy(new.get("status") or {})
    out = {key: status if key == "status" else kept[key] for key in old}
    out.setdefault("status", status)
    return out


def _json_copy(obj: Obj) -> Obj:
    copied: Obj = fastjson.copy(obj)
    return copied


def prepare_ephemeral_update(new: Obj, old: Obj) -> Obj:
    """``PUT|PATCH pods/NAME/ephemeralcontainers``: the stored pod with only
    ``spec.ephemeralContainers`` replaced (``dropNonEphemeralContainerUpdates``), defaulted."""
    out = copy.deepcopy(old)
    spec = out.setdefault("spec", {})
    ephemeral = (new.get("spec") or {}).get("ephemeralContainers")
    if ephemeral:
        spec["ephemeralContainers"] = copy.deepcopy(ephemeral)
    else:
        spec.pop("ephemeralContainers", None)
    default_pod(out)
    return out


def validate_ephemeral(new: Obj, old: Obj) -> list[Cause]:
    return validate_ephemeral_update(new, old)


def prepare_finalize(new: Obj, old: Obj) -> Obj:
    """``PUT namespaces/NAME/finalize``: the stored namespace with only spec.finalizers replaced."""
    out = copy.deepcopy(old)
    finalizers = (new.get("spec") or {}).get("finalizers") or []
    out.setdefault("spec", {})["finalizers"] = list(finalizers)
    return out


def pod_warnings(pod: Obj) -> list[str]:
    spec = pod.get("spec") or {}
    out = [f"spec.{f}" for f in POD_FIELDS_NOT_ACTED_ON if spec.get(f)]
    for i, volume in enumerate(spec.get("volumes") or []):
        kinds = [k for k in volume if k != "name" and k not in VOLUMES_ACTED_ON]
        out += [f"spec.volumes[{i}].{k}" for k in kinds]
    for i, c in enumerate(spec.get("containers") or []):
        out += [f"spec.containers[{i}].{f}" for f in CONTAINER_FIELDS_NOT_ACTED_ON if c.get(f)]
    return [f"{f}: tinykube stores this field but does not act on it yet" for f in out]


def pod_grace_period(pod: Obj, requested: int | None) -> int:
    """Seconds a pod deletion waits for its containers (0: the object goes at once)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    if not spec.get("nodeName") or status.get("phase") in TERMINAL_PHASES:
        return 0
    if requested is not None:
        return max(0, requested)
    return int(spec.get("terminationGracePeriodSeconds", 30))


def check_namespace_deletable(name: str) -> None:
    if name in IMMORTAL_NAMESPACES:
        raise errors.ForbiddenError(
            f'namespaces "{name}" is forbidden: this namespace may not be deleted',
            details={"name": name, "kind": "namespaces"},
        )


def resource_type(name: str) -> ResourceType:
    rt = lookup(name)
    if rt is None:
        raise errors.NotFoundError("the server could not find the requested resource")
    return rt


# The kinds whose strategies live in modules of their own register themselves here.
from control.registry import cronjobstrategy as _cronjobstrategy  # noqa: E402, F401
from control.registry import endpointstrategy as _endpointstrategy  # noqa: E402, F401
from control.registry import jobstrategy as _jobstrategy  # noqa: E402, F401
from control.registry import policystrategy as _policystrategy  # noqa: E402, F401
from control.registry import prioritystrategy as _prioritystrategy  # noqa: E402, F401
from control.registry import servicestrategy as _servicestrategy  # noqa: E402, F401
from control.registry import storagestrategy as _storagestrategy  # noqa: E402, F401
