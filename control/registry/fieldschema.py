"""The shape server-side apply sees in each kind: which values are structs, maps, lists keyed by
fields (``x-kubernetes-list-map-keys``), sets or atomic, read from the pydantic models the API
server decodes with and the list-type table of ``common.patch`` (the one the OpenAPI document
publishes), so the field manager and the schemas cannot drift. Built once per model. Pure.
"""

from __future__ import annotations

import functools
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from common.patch import ATOMIC_MAPS, ATOMIC_STRUCTS, list_type
from control.validation import SCHEMAS
from control.validation.decode import unwrap

SCALAR = "scalar"
ATOMIC = "atomic"  # replaced as a whole: an atomic list or struct
STRUCT = "struct"
MAP = "map"  # a map of string keys (labels, data), or a free-form object
LIST = "list"
ANY = "any"  # a free-form value: objects are maps, lists are atomic (SMD's deduced type)


@dataclass(frozen=True)
class Node:
    kind: str
    model: type[BaseModel] | None = None
    elem: Node | None = None  # a map's values, a list's items
    list_type: str = ""  # "map", "set" or "atomic"
    keys: tuple[str, ...] = ()
    name: str = field(default="")

    def child(self, key: str) -> Node:
        """The node of a struct's field or a map's value (ANY for a field it does not know)."""
        if self.kind == STRUCT and self.model is not None:
            return _fields(self.model).get(key, ANY_NODE)
        if self.kind in (MAP, ANY):
            return self.elem or ANY_NODE
        return ANY_NODE


ANY_NODE = Node(ANY)
SCALAR_NODE = Node(SCALAR)


@functools.cache
def _fields(model: type[BaseModel]) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        out[key] = node_of(info.annotation, model.__name__, key)
    return out


def node_of(annotation: Any, struct: str = "", name: str = "") -> Node:
    """The node of a field's annotation (``name`` of the Go struct ``struct``)."""
    bare, _ = unwrap(annotation)
    origin = typing.get_origin(bare)
    if origin is list:
        kind, keys = list_type(struct, name)
        item = node_of(typing.get_args(bare)[0])
        if kind == "map" and item.kind != STRUCT:
            kind, keys = "atomic", ()
        return Node(LIST, elem=item, list_type=kind, keys=keys, name=name)
    if origin is dict:
        if (struct, name) in ATOMIC_MAPS:
            return Node(ATOMIC)
        value = typing.get_args(bare)[1]
        return Node(MAP, elem=ANY_NODE if value is Any else node_of(value))
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        if bare.__name__ in ATOMIC_STRUCTS:
            return Node(ATOMIC, model=bare)
        return Node(STRUCT, model=bare)
    return ANY_NODE if bare is Any else SCALAR_NODE


@functools.cache
def root(kind: str) -> Node:
    """The node of a whole object of ``kind`` (free-form for a kind without a schema)."""
    model = SCHEMAS.get(kind)
    return Node(STRUCT, model=model) if model is not None else ANY_NODE
