"""kubectl's table cells of apps/v1 StatefulSet (``NAME READY AGE``, wide ``CONTAINERS
IMAGES``), as pkg/printers/internalversion's printStatefulSet. Pure: ``now`` is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from common.humanize import age

Obj = Mapping[str, Any]
READY_DOC = "Number of the pod with ready state"


def _section(obj: Obj, key: str) -> Obj:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def statefulset_cells(sts: Obj, now: dt.datetime) -> list[str]:
    m, spec, status = _section(sts, "metadata"), _section(sts, "spec"), _section(sts, "status")
    pod_spec = _section(_section(spec, "template"), "spec")
    containers = [c for c in pod_spec.get("containers") or [] if isinstance(c, Mapping)]
    replicas = spec.get("replicas", 1)
    return [
        str(m.get("name", "")),
        f"{int(status.get('readyReplicas') or 0)}/{int(replicas or 0)}",
        age(m.get("creationTimestamp"), now),
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
    ]
