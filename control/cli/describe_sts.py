"""``describe statefulset`` in kubectl's layout (``describeStatefulSet``,
``describeVolumeClaimTemplates``): replicas, update strategy, pod counts, the pod template and
the claim templates. The describer is pure; its binder reads the set's pods first.
Registers itself with ``describe``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from common.humanize import rfc1123z
from common.printers import format_selector
from control.cli.describe_apps import BINDERS, _m, pod_status_section, with_pods
from control.cli.describers import (
    Obj,
    Text,
    _annotations,
    _labels,
    events_section,
    register,
)


def _claim_templates(w: Text, templates: Sequence[Obj]) -> None:
    if not templates:
        w.write(0, "Volume Claims:\t<none>\n")
        return
    w.write(0, "Volume Claims:\n")
    for pvc in templates:
        meta, spec = _m(pvc, "metadata"), _m(pvc, "spec")
        w.write(1, f"Name:\t{meta.get('name', '')}\n")
        w.write(1, f"StorageClass:\t{spec.get('storageClassName') or ''}\n")
        _labels(w, "  Labels", meta.get("labels"))
        w.write(0, "  ")
        _annotations(w, meta.get("annotations"))
        capacity = _m(_m(spec, "resources"), "requests").get("storage")
        w.write(1, f"Capacity:\t{capacity if capacity is not None else '<default>'}\n")
        modes = " ".join(str(m) for m in spec.get("accessModes") or [])
        w.write(1, f"Access Modes:\t[{modes}]\n")


def describe_statefulset(
    sts: Obj, events: Sequence[Obj] | None, now: dt.datetime, pods: Sequence[Obj] | None = None
) -> str:
    """``pods``: the pods the StatefulSet controls (``None``: not known)."""
    meta, spec, status = _m(sts, "metadata"), _m(sts, "spec"), _m(sts, "status")
    w = Text()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    w.write(0, f"Selector:\t{format_selector(spec.get('selector'))}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, meta.get("annotations"))
    w.write(
        0,
        f"Replicas:\t{int(spec.get('replicas', 1) or 0)} desired | "
        f"{int(status.get('replicas') or 0)} total\n",
    )
    strategy = _m(spec, "updateStrategy")
    w.write(0, f"Update Strategy:\t{strategy.get('type', '')}\n")
    rolling = strategy.get("rollingUpdate")
    if isinstance(rolling, Mapping) and rolling.get("partition") is not None:
        w.write(1, f"Partition:\t{int(rolling['partition'])}\n")
        if rolling.get("maxUnavailable") is not None:
            w.write(1, f"MaxUnavailable:\t{rolling['maxUnavailable']}\n")
    pod_status_section(w, spec, pods)
    templates = [t for t in spec.get("volumeClaimTemplates") or [] if isinstance(t, Mapping)]
    _claim_templates(w, templates)
    events_section(w, events, now)
    return w.text()


BINDERS["statefulsets"] = with_pods(describe_statefulset)
register("statefulsets", describe_statefulset)
