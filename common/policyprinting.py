"""How kubectl prints PodDisruptionBudgets (pkg/printers/internalversion:
printPodDisruptionBudget): ``NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE``.
Pure: ``now`` is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from common.humanize import age

Obj = Mapping[str, Any]
NOT_SET = "N/A"
MIN_AVAILABLE_DOC = "The minimum number of pods that must be available."
MAX_UNAVAILABLE_DOC = "The maximum number of pods that may be unavailable."
ALLOWED_DOC = "Calculated number of pods that may be disrupted at this time."


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int_or_string(value: Any) -> str:
    return NOT_SET if value is None else str(value)


def pdb_cells(pdb: Obj, now: dt.datetime) -> list[str]:
    spec, status, meta = _m(pdb.get("spec")), _m(pdb.get("status")), _m(pdb.get("metadata"))
    return [
        str(meta.get("name", "")),
        _int_or_string(spec.get("minAvailable")),
        _int_or_string(spec.get("maxUnavailable")),
        str(int(status.get("disruptionsAllowed") or 0)),
        age(meta.get("creationTimestamp"), now),
    ]
