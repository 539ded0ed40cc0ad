"""kubectl's table cells of the apps/v1 kinds with a history: ControllerRevision
(``NAME CONTROLLER REVISION AGE``), as pkg/printers/internalversion prints them. Pure: ``now`` is
passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from common.humanize import age

Obj = Mapping[str, Any]
NONE = "<none>"

CONTROLLER_DOC = "Controller of the object"
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
