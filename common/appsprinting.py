"""kubectl's table cells of the apps/v1 kinds with a history: ControllerRevision
(``NAME CONTROLLER REVISION AGE``) and DaemonSet (``NAME DESIRED CURRENT READY UP-TO-DATE
AVAILABLE NODE SELECTOR AGE``), as pkg/printers/internalversion prints them. Pure: ``now`` is
passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from common.humanize import age

Obj = Mapping[str, Any]
NONE = "<none>"

CONTROLLER_DOC = "Controller of the object"
# The DaemonSetStatus field docs kube-apiserver gives as column descriptions.
DAEMONSET_DOCS = (
    "The total number of nodes that should be running the daemon pod (including nodes correctly "
    "running the daemon pod). More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
    "The number of nodes that are running at least 1 daemon pod and are supposed to run the "
    "daemon pod. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
    "numberReady is the number of nodes that should be running the daemon pod and have one or "
    "more of the daemon pod running with a Ready Condition.",
    "The total number of nodes that are running updated daemon pod",
    "The number of nodes that should be running the daemon pod and have one or more of the "
    "daemon pod running and available (ready for at least spec.minReadySeconds)",
    "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which "
    "must match a node's labels for the pod to be scheduled on that node. More info: "
    "https://kubernetes.io/docs/concepts/configuration/assign-pod-node/",
)
REVISION_DOC = "Revision indicates the revision of the state represented by Data."


def _meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def _age(obj: Obj, now: dt.datetime) -> str:
    return age(_meta(obj).get("creationTimestamp"), now)


def controller_name(obj: Obj) -> str:
    """``daemonset.apps/NAME``: the controller's kind and group, lower-cased, and its name
    (formatResourceName with its kind); ``<none>`` without a controller."""
    for ref in _meta(obj).get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            api_version = str(ref.get("apiVersion") or "")
            group = api_version.rpartition("/")[0]
            kind = str(ref.get("kind") or "").lower()
            qualified = f"{kind}.{group}" if group else kind
            return f"{qualified}/{ref.get('name', '')}"
    return NONE


def controller_revision_cells(cr: Obj, now: dt.datetime) -> list[str]:
    return [
        str(_meta(cr).get("name", "")),
        controller_name(cr),
        str(int(cr.get("revision") or 0)),
        _age(cr, now),
    ]


def _section(obj: Obj, key: str) -> Obj:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def daemonset_cells(
    ds: Obj,
    now: dt.datetime,
    format_labels: Callable[[object], str],
    format_selector: Callable[[object], str],
) -> list[str]:
    """printDaemonSet: the counts of its status, the template's node selector, then (wide) the
    containers, images and selector."""
    spec, status = _section(ds, "spec"), _section(ds, "status")
    pod_spec = _section(_section(spec, "template"), "spec")
    containers = [c for c in pod_spec.get("containers") or [] if isinstance(c, Mapping)]

    def count(key: str) -> str:
        return str(int(status.get(key) or 0))

    return [
        str(_meta(ds).get("name", "")),
        count("desiredNumberScheduled"),
        count("currentNumberScheduled"),
        count("numberReady"),
        count("updatedNumberScheduled"),
        count("numberAvailable"),
        format_labels(pod_spec.get("nodeSelector")),
        _age(ds, now),
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
        format_selector(spec.get("selector")),
    ]
