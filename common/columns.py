"""The shape of a kubectl table: its columns (name, type, priority, description) and the function
giving one object's cells. ``common.printers`` fills them per resource type; tkctl lays them out
and the API server turns them into ``meta.k8s.io`` ``Table`` objects. Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Column:
    """One column of a kubectl ``Table``; ``priority`` 1 columns show only with ``-o wide``."""

    name: str
    priority: int = 0
    type: str = "string"
    format: str = ""
    description: str = ""
    # kube-apiserver's printer puts an int64 in this cell (deployments' Up-to-date, whose column
    # type is nevertheless "string"); the API's Table carries a JSON number there.
    integer: bool = False
    # kube-apiserver's printer puts a Go bool in this cell (a PriorityClass's Global-Default); a
    # "boolean" column whose printer writes "True"/"False" (a CronJob's Suspend) keeps strings.
    boolean: bool = False

    @property
    def header(self) -> str:
        return self.name.upper()


@dataclass(frozen=True)
class TablePrinter:
    """The columns of a resource type and the function giving all cells of one object."""

    columns: tuple[Column, ...]
    cells: Callable[[Obj, dt.datetime], list[str]]
    # The row's ``conditions`` in an API Table (a finished pod is ``Completed``).
    conditions: Callable[[Obj], list[dict[str, str]]] | None = None


def headers(printer: TablePrinter, wide: bool = False) -> list[str]:
    return [c.header for c in printer.columns if wide or c.priority == 0]


def row(printer: TablePrinter, obj: Obj, now: dt.datetime, wide: bool = False) -> list[str]:
    cells = printer.cells(obj, now)
    return [cell for c, cell in zip(printer.columns, cells, strict=True) if wide or c.priority == 0]


def column_definitions(printer: TablePrinter) -> list[dict[str, Any]]:
    """The ``columnDefinitions`` of a ``meta.k8s.io/v1`` Table."""
    return [
        {
            "name": c.name,
            "type": c.type,
            "format": c.format,
            "description": c.description,
            "priority": c.priority,
        }
        for c in printer.columns
    ]
