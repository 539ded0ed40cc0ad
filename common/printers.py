"""kubectl's table printing: columns and cells per resource type (``pkg/printers/internalversion``),
with the pod rules of ``common.podstatus`` and the layout of ``common.tabwriter``. Pure: ``now`` is
passed in.

tkctl prints tables with these functions and the API server builds ``Table`` answers from the same
``TablePrinter`` entries (``column_definitions`` + ``cells``), so both always agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from common.appsprinting import (
    CONTROLLER_DOC,
    DAEMONSET_DOCS,
    REVISION_DOC,
    controller_revision_cells,
    daemonset_cells,
)
from common.columns import Column, TablePrinter, column_definitions, headers, row
from common.cronjobprinting import cronjob_cells, cronjob_columns
from common.endpointprinting import (
    ADDRESS_TYPE_DOC,
    ENDPOINTS_DOC,
    PORTS_DOC,
    SUBSETS_DOC,
    endpoints_cells,
    endpointslice_cells,
)
from common.humanize import age, human_duration
from common.jobprinting import (
    COMPLETIONS_DOC,
    DURATION_DOC,
    STATUS_DOC,
    job_completions,
    job_duration,
    job_status,
)
from common.podstatus import pod_ready, pod_restarts, pod_status, restarts_cell, summarize
from common.policyprinting import (
    ALLOWED_DOC,
    MAX_UNAVAILABLE_DOC,
    MIN_AVAILABLE_DOC,
    pdb_cells,
)
from common.serviceprinting import service_cells
from common.statefulsetprinting import READY_DOC, statefulset_cells
from common.storageprinting import pv_cells, pvc_cells, storage_class_cells
from common.tabwriter import format_table, tabwrite
from common.wellknown import NODE_ROLE_PREFIX

__all__ = [
    "PRINTERS",
    "Column",
    "TablePrinter",
    "age",
    "column_definitions",
    "deployment_row",
    "event_row",
    "format_labels",
    "format_selector",
    "format_table",
    "headers",
    "human_duration",
    "namespace_row",
    "node_roles",
    "node_row",
    "node_status",
    "pod_ready",
    "pod_restarts",
    "pod_row",
    "pod_status",
    "printer_for",
    "replicaset_row",
    "row",
    "tabwrite",
]

NONE = "<none>"
NODE_ROLE_LABEL = "kubernetes.io/role"

Obj = Mapping[str, Any]


def _meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def _section(obj: Obj, key: str) -> Obj:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name", ""))


def _age(obj: Obj, now: dt.datetime) -> str:
    return age(_meta(obj).get("creationTimestamp"), now)


def format_labels(labels: object) -> str:
    """``a=b,c=d`` sorted by key (``labels.FormatLabels``), ``<none>`` when empty."""
    if not isinstance(labels, Mapping) or not labels:
        return NONE
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def format_selector(selector: object) -> str:
    """A ``LabelSelector`` in string form (``metav1.FormatLabelSelector``), ``<none>`` if empty."""
    if not isinstance(selector, Mapping):
        return NONE
    reqs: list[tuple[str, str]] = []
    for k, v in (selector.get("matchLabels") or {}).items():
        reqs.append((k, f"{k}={v}"))
    for expr in selector.get("matchExpressions") or []:
        key, op = str(expr.get("key", "")), str(expr.get("operator", ""))
        values = ",".join(sorted(str(v) for v in expr.get("values") or []))
        text = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(op, f"{key} {op} ({values})")
        reqs.append((key, text))
    return ",".join(text for _, text in sorted(reqs)) or NONE


# -- pods ---------------------------------------------------------------------------------------


def _readiness_gates(pod: Obj) -> str:
    gates = _section(pod, "spec").get("readinessGates") or []
    if not gates:
        return NONE
    conds = {
        c.get("type"): c.get("status") for c in _section(pod, "status").get("conditions") or []
    }
    true = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
    return f"{true}/{len(gates)}"


def _pod_cells(pod: Obj, now: dt.datetime) -> list[str]:
    s = summarize(pod)
    restarts = restarts_cell(s, now)
    status = _section(pod, "status")
    ips = [p.get("ip") for p in status.get("podIPs") or [] if isinstance(p, Mapping)]
    ip = (ips[0] if ips else status.get("podIP")) or NONE
    return [
        _name(pod),
        f"{s.ready}/{s.total}",
        s.reason,
        restarts,
        _age(pod, now),
        str(ip),
        str(_section(pod, "spec").get("nodeName") or NONE),
        str(status.get("nominatedNodeName") or NONE),
        _readiness_gates(pod),
    ]


def _pod_conditions(pod: Obj) -> list[dict[str, str]]:
    """``podSuccessConditions`` / ``podFailedConditions`` of kube-apiserver's pod printer."""
    phase = _section(pod, "status").get("phase")
    message = {"Succeeded": "The pod has completed successfully.", "Failed": "The pod failed."}
    if phase not in message:
        return []
    return [{"type": "Completed", "status": "True", "reason": str(phase),
             "message": message[str(phase)]}]  # fmt: skip


def pod_row(pod: Obj, now: dt.datetime, wide: bool = False) -> list[str]:
    """``NAME READY STATUS RESTARTS AGE`` (+ ``IP NODE NOMINATED NODE READINESS GATES`` if wide)."""
    return row(PRINTERS["pods"], pod, now, wide)


# -- nodes, namespaces, events ------------------------------------------------------------------


def node_status(node: Obj) -> str:
    """``Ready``, ``NotReady`` (False or Unknown), ``Unknown`` (no Ready condition); then
    ``,SchedulingDisabled`` for a cordoned node."""
    parts = []
    for cond in _section(node, "status").get("conditions") or []:
        if cond.get("type") == "Ready":
            parts = ["Ready" if cond.get("status") == "True" else "NotReady"]
    if not parts:
        parts = ["Unknown"]
    if _section(node, "spec").get("unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def node_roles(node: Obj) -> str:
    roles = set()
    for key, value in (_meta(node).get("labels") or {}).items():
        if key.startswith(NODE_ROLE_PREFIX) and key[len(NODE_ROLE_PREFIX) :]:
            roles.add(key[len(NODE_ROLE_PREFIX) :])
        elif key == NODE_ROLE_LABEL and value:
            roles.add(str(value))
    return ",".join(sorted(roles)) or NONE


def _node_address(node: Obj, kind: str) -> str:
    for addr in _section(node, "status").get("addresses") or []:
        if addr.get("type") == kind:
            return str(addr.get("address") or NONE)
    return NONE


def _node_cells(node: Obj, now: dt.datetime) -> list[str]:
    info = _section(_section(node, "status"), "nodeInfo")
    return [
        _name(node),
        node_status(node),
        node_roles(node),
        _age(node, now),
        str(info.get("kubeletVersion") or ""),
        _node_address(node, "InternalIP"),
        _node_address(node, "ExternalIP"),
        str(info.get("osImage") or "<unknown>"),
        str(info.get("kernelVersion") or "<unknown>"),
        str(info.get("containerRuntimeVersion") or "<unknown>"),
    ]


def node_row(node: Obj, now: dt.datetime, wide: bool = False) -> list[str]:
    return row(PRINTERS["nodes"], node, now, wide)


def _namespace_cells(ns: Obj, now: dt.datetime) -> list[str]:
    return [_name(ns), str(_section(ns, "status").get("phase") or ""), _age(ns, now)]


def namespace_row(ns: Obj, now: dt.datetime, wide: bool = False) -> list[str]:
    return row(PRINTERS["namespaces"], ns, now, wide)


def _event_cells(ev: Obj, now: dt.datetime) -> list[str]:
    first = age(ev.get("firstTimestamp") or ev.get("eventTime"), now)
    last = age(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = int(ev.get("count") or 1)
    series = ev.get("series")
    if isinstance(series, Mapping):
        last = age(series.get("lastObservedTime"), now)
        count = int(series.get("count") or count)
    obj = _section(ev, "involvedObject")
    kind = str(obj.get("kind") or "").lower()
    target = f"{kind}/{obj['name']}" if obj.get("name") else kind
    source = _section(ev, "source")
    src = str(source.get("component") or ev.get("reportingComponent") or "")
    if source.get("host"):
        src = f"{src}, {source['host']}"
    return [
        last,
        str(ev.get("type") or ""),
        str(ev.get("reason") or ""),
        target,
        str(obj.get("fieldPath") or ""),
        src,
        str(ev.get("message") or "").strip(),
        first,
        str(count),
        _name(ev),
    ]


def event_row(ev: Obj, now: dt.datetime, wide: bool = False) -> list[str]:
    return row(PRINTERS["events"], ev, now, wide)


# -- workloads ------------------------------------------------------------------------------------


def _template_containers(obj: Obj) -> tuple[str, str]:
    spec = _section(_section(_section(obj, "spec"), "template"), "spec")
    containers = [c for c in spec.get("containers") or [] if isinstance(c, Mapping)]
    names = ",".join(str(c.get("name", "")) for c in containers)
    images = ",".join(str(c.get("image", "")) for c in containers)
    return names, images


def _deployment_cells(d: Obj, now: dt.datetime) -> list[str]:
    spec, status = _section(d, "spec"), _section(d, "status")
    names, images = _template_containers(d)
    return [
        _name(d),
        f"{int(status.get('readyReplicas') or 0)}/{int(spec.get('replicas', 1) or 0)}",
        str(int(status.get("updatedReplicas") or 0)),
        str(int(status.get("availableReplicas") or 0)),
        _age(d, now),
        names,
        images,
        format_selector(spec.get("selector")),
    ]


def deployment_row(d: Obj, now: dt.datetime, wide: bool = False) -> list[str]:
    return row(PRINTERS["deployments"], d, now, wide)


def _replicaset_cells(rs: Obj, now: dt.datetime) -> list[str]:
    spec, status = _section(rs, "spec"), _section(rs, "status")
    names, images = _template_containers(rs)
    return [
        _name(rs),
        str(int(spec.get("replicas", 1) or 0)),
        str(int(status.get("replicas") or 0)),
        str(int(status.get("readyReplicas") or 0)),
        _age(rs, now),
        names,
        images,
        format_selector(spec.get("selector")),
    ]


def _job_cells(job: Obj, now: dt.datetime) -> list[str]:
    names, images = _template_containers(job)
    selector = format_selector(_section(job, "spec").get("selector"))
    return [_name(job), job_status(job), job_completions(job), job_duration(job, now),
            _age(job, now), names, images, selector]  # fmt: skip


def replicaset_row(rs: Obj, now: dt.datetime, wide: bool = False) -> list[str]:
    return row(PRINTERS["replicasets"], rs, now, wide)


def _lease_cells(lease: Obj, now: dt.datetime) -> list[str]:
    return [
        _name(lease),
        str(_section(lease, "spec").get("holderIdentity") or ""),
        _age(lease, now),
    ]


def _priority_class_cells(pc: Obj, now: dt.datetime) -> list[str]:
    return [
        _name(pc),
        str(int(pc.get("value") or 0)),
        "true" if pc.get("globalDefault") else "false",
        _age(pc, now),
        str(pc.get("preemptionPolicy") or ""),
    ]


def _config_map_cells(cm: Obj, now: dt.datetime) -> list[str]:
    count = len(cm.get("data") or {}) + len(cm.get("binaryData") or {})
    return [_name(cm), str(count), _age(cm, now)]


def _service_account_cells(sa: Obj, now: dt.datetime) -> list[str]:
    return [_name(sa), str(len(sa.get("secrets") or [])), _age(sa, now)]


def _secret_cells(secret: Obj, now: dt.datetime) -> list[str]:
    count = len(secret.get("data") or {})
    return [_name(secret), str(secret.get("type") or ""), str(count), _age(secret, now)]


def _daemonset_cells(ds: Obj, now: dt.datetime) -> list[str]:
    return daemonset_cells(ds, now, format_labels, format_selector)


def _default_cells(obj: Obj, now: dt.datetime) -> list[str]:
    return [_name(obj), _age(obj, now)]


# Column descriptions as kube-apiserver's printers give them (the API reference's field docs).
_NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_AGE_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_PRIORITY_VALUE_DOC = (
    "value represents the integer value of this priority class. This is the actual priority "
    "that pods receive when they have the name of this class in their pod spec."
)
_GLOBAL_DEFAULT_DOC = (
    "globalDefault specifies whether this PriorityClass should be considered as the default "
    "priority for pods that do not have any priority class. Only one PriorityClass can be "
    "marked as `globalDefault`. However, if more than one PriorityClasses exists with their "
    "`globalDefault` field set to true, the smallest value of such global default "
    "PriorityClasses will be used as the default priority."
)
_PREEMPTION_POLICY_DOC = (
    "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, "
    "PreemptLowerPriority. Defaults to PreemptLowerPriority if unset."
)
_NAME = Column("Name", format="name", description=_NAME_DOC)
_AGE = Column("Age", description=_AGE_DOC)
_WORKLOAD_WIDE = (
    Column("Containers", 1, description="Names of each container in the template."),
    Column("Images", 1, description="Images referenced by each container in the template."),
    Column("Selector", 1),
)
_DAEMONSET_SELECTOR_DOC = (
    "A label query over pods that are managed by the daemon set. Must match in order to be "
    "controlled. It must match the pod template's labels. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)
_CONFIG_MAP_DATA_DOC = (
    "Data contains the configuration data. Each key must consist of alphanumeric characters, "
    "'-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The "
    "keys stored in Data must not overlap with the keys in the BinaryData field, this is "
    "enforced during validation process."
)
_SECRET_DATA_DOC = (
    "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' "
    "or '.'. The serialized form of the secret data is a base64 encoded string, representing the "
    "arbitrary (possibly non-string) data value here. Described in "
    "https://tools.ietf.org/html/rfc4648#section-4"
)
_SECRET_TYPE_DOC = (
    "Used to facilitate programmatic handling of secret data. More info: "
    "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"
)
_POD_DOCS = (
    "The aggregate readiness state of this pod for accepting traffic.",
    "The aggregate status of the containers in this pod.",
    "The number of times the containers in this pod have been restarted and when the last "
    "container in this pod has restarted.",
)

PRINTERS: dict[str, TablePrinter] = {
    "pods": TablePrinter(
        (_NAME, Column("Ready", description=_POD_DOCS[0]),
         Column("Status", description=_POD_DOCS[1]), Column("Restarts", description=_POD_DOCS[2]),
         _AGE, Column("IP", 1), Column("Node", 1), Column("Nominated Node", 1),
         Column("Readiness Gates", 1)),
        _pod_cells,
        _pod_conditions,
    ),
    "nodes": TablePrinter(
        (_NAME, Column("Status", description="The status of the node"),
         Column("Roles", description="The roles of the node"), _AGE, Column("Version"),
         Column("Internal-IP", 1), Column("External-IP", 1), Column("OS-Image", 1),
         Column("Kernel-Version", 1), Column("Container-Runtime", 1)),
        _node_cells,
    ),
    "namespaces": TablePrinter(
        (_NAME, Column("Status", description="The status of the namespace"), _AGE),
        _namespace_cells,
    ),
    "events": TablePrinter(
        (Column("Last Seen"), Column("Type"), Column("Reason"), Column("Object"),
         Column("Subobject", 1), Column("Source", 1), Column("Message"),
         Column("First Seen", 1), Column("Count", 1, integer=True),
         Column("Name", 1, format="name", description=_NAME_DOC)),
        _event_cells,
    ),
    "deployments": TablePrinter(
        (_NAME, Column("Ready", description="Number of the pod with ready state"),
         Column("Up-to-date", integer=True), Column("Available", integer=True), _AGE,
         *_WORKLOAD_WIDE),
        _deployment_cells,
    ),
    "replicasets": TablePrinter(
        (_NAME, Column("Desired", type="integer", integer=True),
         Column("Current", type="integer", integer=True),
         Column("Ready", type="integer", integer=True), _AGE, *_WORKLOAD_WIDE),
        _replicaset_cells,
    ),
    "leases": TablePrinter((_NAME, Column("Holder"), _AGE), _lease_cells),
    "services": TablePrinter(
        (_NAME, Column("Type"), Column("Cluster-IP"), Column("External-IP"), Column("Port(s)"),
         _AGE, Column("Selector", 1)),
        service_cells,
    ),
    "configmaps": TablePrinter(
        (_NAME, Column("Data", description=_CONFIG_MAP_DATA_DOC, integer=True), _AGE),
        _config_map_cells,
    ),
    "secrets": TablePrinter(
        (_NAME, Column("Type", description=_SECRET_TYPE_DOC),
         Column("Data", description=_SECRET_DATA_DOC, integer=True), _AGE),
        _secret_cells,
    ),
    "endpoints": TablePrinter(
        (_NAME, Column("Endpoints", description=SUBSETS_DOC), _AGE), endpoints_cells
    ),
    "endpointslices": TablePrinter(
        (_NAME, Column("AddressType", description=ADDRESS_TYPE_DOC),
         Column("Ports", description=PORTS_DOC), Column("Endpoints", description=ENDPOINTS_DOC),
         _AGE),
        endpointslice_cells,
    ),
    "persistentvolumes": TablePrinter(
        (_NAME, Column("Capacity"), Column("Access Modes"), Column("Reclaim Policy"),
         Column("Status"), Column("Claim"),
         Column("StorageClass", description="StorageClass of the pv"),
         Column("VolumeAttributesClass", description="VolumeAttributesClass of the pv"),
         Column("Reason"), _AGE, Column("VolumeMode", 1)),
        pv_cells,
    ),
    "persistentvolumeclaims": TablePrinter(
        (_NAME, Column("Status"), Column("Volume"), Column("Capacity"), Column("Access Modes"),
         Column("StorageClass", description="StorageClass of the pvc"),
         Column("VolumeAttributesClass", description="VolumeAttributesClass of the pvc"),
         _AGE, Column("VolumeMode", 1)),
        pvc_cells,
    ),
    "storageclasses": TablePrinter(
        (_NAME, Column("Provisioner"), Column("ReclaimPolicy"), Column("VolumeBindingMode"),
         Column("AllowVolumeExpansion"), _AGE),
        storage_class_cells,
    ),
    "serviceaccounts": TablePrinter(
        (_NAME, Column("Secrets", type="integer", integer=True), _AGE), _service_account_cells
    ),
    "poddisruptionbudgets": TablePrinter(
        (_NAME, Column("Min Available", description=MIN_AVAILABLE_DOC),
         Column("Max Unavailable", description=MAX_UNAVAILABLE_DOC),
         Column("Allowed Disruptions", type="integer", description=ALLOWED_DOC, integer=True),
         _AGE),
        pdb_cells,
    ),
    "controllerrevisions": TablePrinter(
        (_NAME, Column("Controller", description=CONTROLLER_DOC),
         Column("Revision", description=REVISION_DOC, integer=True), _AGE),
        controller_revision_cells,
    ),
    "statefulsets": TablePrinter(
        (_NAME, Column("Ready", description=READY_DOC), _AGE, *_WORKLOAD_WIDE[:2]),
        statefulset_cells,
    ),
    "jobs": TablePrinter(
        (_NAME, Column("Status", description=STATUS_DOC),
         Column("Completions", description=COMPLETIONS_DOC),
         Column("Duration", description=DURATION_DOC), _AGE, *_WORKLOAD_WIDE),
        _job_cells,
    ),
    "cronjobs": TablePrinter(cronjob_columns(_NAME, _AGE), cronjob_cells),
    "daemonsets": TablePrinter(
        (_NAME, *(Column(n, type="integer", description=d, integer=True) for n, d in zip(
             ("Desired", "Current", "Ready", "Up-to-date", "Available"), DAEMONSET_DOCS,
             strict=False)),
         Column("Node Selector", description=DAEMONSET_DOCS[5]), _AGE,
         _WORKLOAD_WIDE[0], _WORKLOAD_WIDE[1],
         Column("Selector", 1, description=_DAEMONSET_SELECTOR_DOC)),
        _daemonset_cells,
    ),
    "priorityclasses": TablePrinter(
        (_NAME, Column("Value", type="integer", description=_PRIORITY_VALUE_DOC, integer=True),
         Column("Global-Default", type="boolean", description=_GLOBAL_DEFAULT_DOC,
                boolean=True), _AGE,
         Column("PreemptionPolicy", description=_PREEMPTION_POLICY_DOC)),
        _priority_class_cells,
    ),
}  # fmt: skip

DEFAULT_PRINTER = TablePrinter((_NAME, _AGE), _default_cells)


def printer_for(plural: str) -> TablePrinter:
    """The printer of a resource type (by plural); ``NAME AGE`` for types without one."""
    return PRINTERS.get(plural, DEFAULT_PRINTER)
