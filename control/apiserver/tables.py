"""Server-side printing: objects as the ``meta.k8s.io`` ``Table`` kube-apiserver answers to
``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` (what ``kubectl get`` asks for).

The columns and cells are the printers of ``common.printers``, the ones tkctl prints with, so the
two never disagree. Like kube-apiserver, every column is sent (``-o wide`` is the client's choice)
and a type without a printer gets the default table: Name and Created At. Pure: ``now`` is given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from common import errors
from common.columns import Column, TablePrinter, column_definitions
from common.printers import PRINTERS
from common.resources import ResourceType

META_GROUP = "meta.k8s.io"
# The versions of meta.k8s.io that have a Table (kube-apiserver: metav1 and metav1beta1).
TABLE_VERSIONS = ("v1", "v1beta1")
# ``includeObject``: what each row's ``object`` holds; "" means the default, Metadata.
INCLUDE_OBJECT = ("Metadata", "None", "Object")

Obj = Mapping[str, Any]


def _created_at(obj: Obj, now: dt.datetime) -> list[str]:
    meta = obj.get("metadata") or {}
    return [str(meta.get("name", "")), str(meta.get("creationTimestamp") or "")]


# ``rest.NewDefaultTableConvertor``: the table of a resource without a printer.
DEFAULT_TABLE = TablePrinter(
    (
        PRINTERS["pods"].columns[0],
        Column(
            "Created At",
            type="date",
            description=PRINTERS["pods"].columns[4].description,
        ),
    ),
    _created_at,
)


def table_printer(rt: ResourceType) -> TablePrinter:
    return PRINTERS.get(rt.plural, DEFAULT_TABLE)


def check_include_object(value: str) -> str:
    """``TableOptions`` validation: an unknown ``includeObject`` is a 400."""
    if value in ("", *INCLUDE_OBJECT):
        return value or "Metadata"
    supported = ", ".join(f'"{v}"' for v in INCLUDE_OBJECT)
    raise errors.BadRequestError(
        "Unable to convert to Table as requested: includeObject: Unsupported value: "
        f'"{value}": supported values: {supported}'
    )


def _row_object(rt: ResourceType, obj: Obj, version: str, include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return {"kind": rt.kind, "apiVersion": rt.api_version, **obj}
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"{META_GROUP}/{version}",
        "metadata": dict(obj.get("metadata") or {}),
    }


def _cells(printer: TablePrinter, obj: Obj, now: dt.datetime) -> list[Any]:
    cells = printer.cells(obj, now)
    return [_typed(col, cell) for col, cell in zip(printer.columns, cells, strict=True)]


def _typed(col: Column, cell: str) -> Any:
    """The JSON value kube-apiserver's printer puts in the cell: a number or a boolean where its
    Go printer returns one."""
    if col.integer:
        return int(cell)
    if col.boolean:
        return cell == "true"
    return cell


def table_row(
    rt: ResourceType, obj: Obj, now: dt.datetime, *, version: str = "v1", include: str = "Metadata"
) -> dict[str, Any]:
    printer = table_printer(rt)
    out: dict[str, Any] = {"cells": _cells(printer, obj, now)}
    conditions = printer.conditions(obj) if printer.conditions else []
    if conditions:
        out["conditions"] = conditions
    out["object"] = _row_object(rt, obj, version, include)
    return out


def to_table(
    rt: ResourceType,
    result: Obj,
    now: dt.datetime,
    *,
    version: str = "v1",
    include: str = "Metadata",
    headers: bool = True,
) -> dict[str, Any]:
    """A list (``items``) or one object as a Table; without ``headers`` the
    ``columnDefinitions`` are null, as in a watch's events after the first."""
    if version not in TABLE_VERSIONS:
        raise errors.NotAcceptableError(f"no Table exists in group version {META_GROUP}/{version}")
    is_list = "items" in result
    objs = list(result.get("items") or []) if is_list else [result]
    meta = result.get("metadata") or {}
    table_meta: dict[str, Any] = {
        k: str(meta[k]) for k in ("resourceVersion", "continue") if meta.get(k)
    }
    if meta.get("remainingItemCount") is not None:
        table_meta["remainingItemCount"] = meta["remainingItemCount"]
    return {
        "kind": "Table",
        "apiVersion": f"{META_GROUP}/{version}",
        "metadata": table_meta,
        "columnDefinitions": column_definitions(table_printer(rt)) if headers else None,
        "rows": [table_row(rt, o, now, version=version, include=include) for o in objs],
    }
