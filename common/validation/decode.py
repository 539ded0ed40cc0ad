"""Decoding, the API server's first step: is the body an object of the kind's JSON schema?

``decode_object`` rejects a body that is not a JSON object, has a field of the wrong JSON type or
has unknown fields, with the messages of Kubernetes' strict decoder (``Pod in version "v1" cannot
be handled as a Pod: strict decoding error: unknown field "spec.foo"``). Kinds are registered in
``SCHEMAS`` (kind -> pydantic model), so new kinds plug in with ``register_schema``. Pure.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from common import errors
from common.validation.schema import K8S_MESSAGE, DeleteOptions, GoType
from common.validation.schema_cluster import Event, Lease, Namespace, Node
from common.validation.schema_pod import Pod

SCHEMAS: dict[str, type[BaseModel]] = {
    "Pod": Pod,
    "Node": Node,
    "Namespace": Namespace,
    "Event": Event,
    "Lease": Lease,
    "DeleteOptions": DeleteOptions,
}
# The version named in messages ("v1" for core/v1 and coordination.k8s.io/v1 alike).
VERSIONS: dict[str, str] = {}

UNKNOWN_FIELD = "FieldValueInvalid"
TYPE_INVALID = "FieldValueTypeInvalid"

# What the API server says when the body is not an object: its kind sniffer fails first.
_KIND_SNIFFER = (
    'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
    'Kind string "json:\\"kind,omitempty\\"" }'
)


def register_schema(kind: str, model: type[BaseModel], version: str = "v1") -> None:
    """Make ``decode_object`` know a new kind (Deployment, ReplicaSet, ...)."""
    SCHEMAS[kind] = model
    VERSIONS[kind] = version


def json_type(value: Any) -> str:
    """The JSON type name Go's decoder prints for a value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "null" if value is None else type(value).__name__


@dataclass
class _Located:
    struct: str  # Go struct that holds the field
    go_path: str  # field names from the root, dotted, no indices (as Go prints them)
    field: str  # the JSON path with indices and keys: spec.containers[0].ports[0].hostPort
    annotation: Any  # the type expected at the error's location


def _unwrap(annotation: Any) -> tuple[Any, str | None]:
    """Strip ``X | None`` and ``Annotated``; return the bare type and any GoType marker name."""
    go_name = None
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            for meta in annotation.__metadata__:
                if isinstance(meta, GoType):
                    go_name = go_name or meta.name
            annotation = annotation.__origin__
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else Any
        else:
            return annotation, go_name


def go_type(annotation: Any) -> str:
    bare, go_name = _unwrap(annotation)
    if go_name:
        return go_name
    origin = typing.get_origin(bare)
    if origin is list:
        return "[]" + go_type(typing.get_args(bare)[0])
    if origin is dict:
        return "map[string]" + go_type(typing.get_args(bare)[1])
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        return "v1." + bare.__name__
    simple = {str: "string", bool: "bool", int: "int64", float: "float64"}
    return simple.get(bare, "interface {}") if isinstance(bare, type) else "interface {}"


def _field_by_alias(model: type[BaseModel], alias: str) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == alias:
            metadata = [m for m in info.metadata if isinstance(m, GoType)]
            ann = info.annotation
            return typing.Annotated[ann, *metadata] if metadata else ann
    return None


def _locate(model: type[BaseModel], loc: tuple[int | str, ...]) -> _Located:
    struct = model.__name__
    names: list[str] = []
    parts: list[str] = []
    annotation: Any = model
    for step in loc:
        bare, _ = _unwrap(annotation)
        origin = typing.get_origin(bare)
        if isinstance(bare, type) and issubclass(bare, BaseModel) and isinstance(step, str):
            struct = bare.__name__
            names.append(step)
            parts.append(("." if parts else "") + step)
            annotation = _field_by_alias(bare, step)
        elif origin is list:
            parts.append(f"[{step}]")
            annotation = typing.get_args(bare)[0]
        elif origin is dict:
            parts.append(f"[{step}]")
            annotation = typing.get_args(bare)[1]
        else:
            parts.append(f".{step}" if isinstance(step, str) else f"[{step}]")
            annotation = Any
    return _Located(struct, ".".join(names), "".join(parts), annotation)


def _document_order(obj: Any, loc: tuple[int | str, ...]) -> tuple[int, ...]:
    """Where a location appears in the body, so errors come out in the order Go finds them."""
    order: list[int] = []
    cur = obj
    for step in loc:
        if isinstance(cur, Mapping):
            keys = list(cur)
            order.append(keys.index(step) if step in keys else len(keys))
            cur = cur.get(step) if isinstance(step, str) else None
        elif isinstance(cur, list) and isinstance(step, int) and step < len(cur):
            order.append(step)
            cur = cur[step]
        else:
            order.append(0)
            cur = None
    return tuple(order)


def _type_message(model: type[BaseModel], err: ErrorDetails) -> tuple[str, str]:
    """(message, field) for a JSON type error, worded as Go's json.UnmarshalTypeError."""
    where = _locate(model, tuple(err["loc"]))
    value = err["input"]
    ctx = err.get("ctx") or {}
    expected = str(ctx.get("go_type") or go_type(where.annotation))
    jtype = json_type(value)
    if jtype == "number" and expected.startswith(("int", "uint")):
        # A fraction or an out-of-range integer: Go quotes the literal.
        jtype = f"number {value!r}" if isinstance(value, float) else f"number {value}"
    if not where.go_path:
        return f"json: cannot unmarshal {jtype} into Go value of type {expected}", where.field
    return (
        f"json: cannot unmarshal {jtype} into Go struct field {where.struct}.{where.go_path} "
        f"of type {expected}",
        where.field,
    )


def decode_object(kind: str, obj: Any) -> None:
    """Check a request body against ``kind``'s schema; raise errors.BadRequestError if it fails.

    A wrong JSON type is reported first (as Go's decoder stops there); otherwise every unknown
    field is listed. ``causes[].field`` names each offending path.
    """
    model = SCHEMAS[kind]
    if not isinstance(obj, Mapping):
        raise errors.BadRequestError(
            "couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{json_type(obj)} into Go value of type {_KIND_SNIFFER}"
        )
    try:
        model.model_validate(obj)
    except ValidationError as e:
        raise _decode_error(kind, model, obj, e) from None


def _decode_error(
    kind: str, model: type[BaseModel], obj: Any, exc: ValidationError
) -> errors.BadRequestError:
    prefix = f'{kind} in version "{VERSIONS.get(kind, "v1")}" cannot be handled as a {kind}: '
    errs = sorted(exc.errors(), key=lambda d: _document_order(obj, tuple(d["loc"])))
    unknown = [d for d in errs if d["type"] == "extra_forbidden"]
    others = [d for d in errs if d["type"] != "extra_forbidden"]
    if others:
        first = others[0]
        if first["type"] == K8S_MESSAGE:
            message, field = first["msg"], _locate(model, tuple(first["loc"])).field
        else:
            message, field = _type_message(model, first)
        return errors.BadRequestError(
            prefix + message, [errors.Cause(field, TYPE_INVALID, message)]
        )
    fields = [_locate(model, tuple(d["loc"])).field for d in unknown]
    causes = [errors.Cause(f, UNKNOWN_FIELD, f'unknown field "{f}"') for f in fields]
    listed = ", ".join(c.message for c in causes)
    return errors.BadRequestError(prefix + "strict decoding error: " + listed, causes)


def drop_unknown_fields(kind: str, obj: Any) -> list[str]:
    """Remove from ``obj`` the fields ``kind``'s schema does not know; return their paths.

    What kube-apiserver does for ``fieldValidation=Warn`` (a warning per path) and ``Ignore``:
    the object is decoded without them. Wrong JSON types stay for ``decode_object`` to report.
    """
    model = SCHEMAS[kind]
    if not isinstance(obj, dict):
        return []
    try:
        model.model_validate(obj)
        return []
    except ValidationError as e:
        unknown = [tuple(d["loc"]) for d in e.errors() if d["type"] == "extra_forbidden"]
    unknown.sort(key=lambda loc: _document_order(obj, loc))
    paths = [_locate(model, loc).field for loc in unknown]
    for loc in unknown:
        parent: Any = obj
        for step in loc[:-1]:
            parent = parent[step]
        parent.pop(loc[-1], None)
    return paths
