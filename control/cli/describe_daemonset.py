"""``tkctl describe daemonset``: kubectl's DaemonSetDescriber (name, selectors, labels,
annotations, the node counts of its status, the phases of its pods, the pod template, events).
Registers its describer and the reader of its pods. Pure but for that reading.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from common.printers import format_labels, format_selector
from control.cli.describe_apps import BINDERS, _m, pod_status_section, with_pods
from control.cli.describers import (
    Obj,
    Text,
    _annotations,
    _labels,
    events_section,
    register,
)


def describe_daemonset(
    ds: Obj, events: Sequence[Obj] | None, now: dt.datetime, pods: Sequence[Obj] | None = None
) -> str:
    """``pods``: the pods the DaemonSet controls (``None``: not known)."""
    meta, spec, status = _m(ds, "metadata"), _m(ds, "spec"), _m(ds, "status")
    template_spec = _m(_m(spec, "template"), "spec")
    w = Text()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    w.write(0, f"Selector:\t{format_selector(spec.get('selector'))}\n")
    w.write(0, f"Node-Selector:\t{format_labels(template_spec.get('nodeSelector'))}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, meta.get("annotations"))

    def count(key: str) -> int:
        return int(status.get(key) or 0)

    w.write(0, f"Desired Number of Nodes Scheduled: {count('desiredNumberScheduled')}\n")
    w.write(0, f"Current Number of Nodes Scheduled: {count('currentNumberScheduled')}\n")
    w.write(0, "Number of Nodes Scheduled with Up-to-date Pods: "
               f"{count('updatedNumberScheduled')}\n")  # fmt: skip
    w.write(0, f"Number of Nodes Scheduled with Available Pods: {count('numberAvailable')}\n")
    w.write(0, f"Number of Nodes Misscheduled: {count('numberMisscheduled')}\n")
    pod_status_section(w, spec, pods)
    events_section(w, events, now)
    return w.text()


BINDERS["daemonsets"] = with_pods(describe_daemonset)
register("daemonsets", describe_daemonset)
