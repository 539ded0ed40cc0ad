"""Decoding, the API server's first step: is the body an object of the kind's JSON schema?

``decode_object`` rejects a body that is not a JSON object, has a field of the wrong JSON type or
has unknown fields, with the messages of Kubernetes' strict decoder (``Pod in version "v1" cannot
be handled as a Pod: strict decoding error: unknown field "spec.foo"``). Kinds are registered in
``SCHEMAS`` (kind -> pydantic model), so new kinds plug in with ``register_schema``. Pure.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from common import errors
from control.validation.schema import K8S_MESSAGE, DeleteOptions, GoType
from control.validation.schema_cluster import Event, Lease, Namespace, Node
from control.validation.schema_pod import Pod
from control.validation.schema_reviews import (
    SelfSubjectAccessReview,
    SelfSubjectReview,
    SelfSubjectRulesReview,
)

SCHEMAS: dict[str, type[BaseModel]] = {
    "Pod": Pod,
    "Node": Node,
    "Namespace": Namespace,
    "Event": Event,
    "Lease": Lease,
    "DeleteOptions": DeleteOptions,
    "SelfSubjectReview": SelfSubjectReview,
    "SelfSubjectAccessReview": SelfSubjectAccessReview,
    "SelfSubjectRulesReview": SelfSubjectRulesReview,
}
# The version named in messages ("v1" for core/v1 and coordination.k8s.io/v1 alike).
VERSIONS: dict[str, str] = {}

UNKNOWN_FIELD = "FieldValueInvalid"
TYPE_INVALID = "FieldValueTypeInvalid"
DUPLICATE_FIELD = "FieldValueDuplicate"
# kube-apiserver's strict decoder keeps at most this many errors.
MAX_STRICT_ERRORS = 100

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


@dataclass(frozen=True)
class Duplicate:
    """A key repeated in a request body. JSON: ``field`` is its path and ``order`` where it
    stands in the body (``()`` for a patch: listed first); YAML: ``line`` and ``key``, reported
    first, as go-yaml does (``line 5: key "name" already set in map``)."""

    field: str
    order: tuple[float, ...] = ()
    line: int = 0
    key: str = ""
    prefix: str = ""  # "json patch " for the operations of a JSON patch

    @property
    def message(self) -> str:
        if self.line:
            return f'line {self.line}: key "{self.key}" already set in map'
        return f'{self.prefix}duplicate field "{self.field}"'


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


# The models are read the same way by the OpenAPI generator (control.apiserver.openapischema).
unwrap = _unwrap


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


class _DocumentOrder:
    """Where a location appears in the body, so errors come out in the order Go finds them. Each
    mapping's key positions are computed once: a body of many unknown keys stays linear."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.positions: dict[int, dict[Any, int]] = {}

    def __call__(self, loc: tuple[int | str, ...]) -> tuple[int, ...]:
        return _document_order(self.obj, loc, self.positions)


def _document_order(
    obj: Any, loc: tuple[int | str, ...], positions: dict[int, dict[Any, int]] | None = None
) -> tuple[int, ...]:
    order: list[int] = []
    cur = obj
    cache = {} if positions is None else positions
    for step in loc:
        if isinstance(cur, Mapping):
            keys = cache.get(id(cur))
            if keys is None:
                keys = cache[id(cur)] = {k: i for i, k in enumerate(cur)}
            order.append(keys.get(step, len(keys)))
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


def decode_object(kind: str, obj: Any, duplicates: Sequence[Duplicate] = ()) -> None:
    """Check a request body against ``kind``'s schema; raise errors.BadRequestError if it fails.

    A wrong JSON type is reported first (as Go's decoder stops there); otherwise every unknown
    field and every repeated key (``duplicates``, found by the body's parser) is listed.
    ``causes[].field`` names each offending path.
    """
    model = SCHEMAS[kind]
    if not isinstance(obj, Mapping):
        raise errors.BadRequestError(
            "couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{json_type(obj)} into Go value of type {_KIND_SNIFFER}"
        )
    try:
        model.model_validate(obj)
        unknown: list[ErrorDetails] = []
    except ValidationError as e:
        unknown = _type_error_first(kind, model, obj, e)
    causes = strict_causes(model, obj, unknown, duplicates)
    if causes:
        listed = ", ".join(c.message for c in causes)
        raise errors.BadRequestError(_prefix(kind) + "strict decoding error: " + listed, causes)


def _prefix(kind: str) -> str:
    return f'{kind} in version "{VERSIONS.get(kind, "v1")}" cannot be handled as a {kind}: '


def _type_error_first(
    kind: str, model: type[BaseModel], obj: Any, exc: ValidationError
) -> list[ErrorDetails]:
    """The unknown-field errors, after raising the first wrong-type error if there is one."""
    errs = exc.errors()
    others = [d for d in errs if d["type"] != "extra_forbidden"]
    if others:
        where = _DocumentOrder(obj)
        first = min(others, key=lambda d: where(tuple(d["loc"])))
        if first["type"] == K8S_MESSAGE:
            message, field = first["msg"], _locate(model, tuple(first["loc"])).field
        else:
            message, field = _type_message(model, first)
        raise errors.BadRequestError(
            _prefix(kind) + message, [errors.Cause(field, TYPE_INVALID, message)]
        )
    return [d for d in errs if d["type"] == "extra_forbidden"]


def strict_causes(
    model: type[BaseModel], obj: Any, unknown: list[ErrorDetails], duplicates: Sequence[Duplicate]
) -> list[errors.Cause]:
    """Unknown fields and repeated keys in the order kube-apiserver's strict decoder lists them:
    go-yaml's line reports first (as one cause), then by place in the body; a repeated key of an
    unknown field (or inside one) is reported only as unknown."""
    found: list[tuple[tuple[float, ...], errors.Cause]] = []
    unknown_paths: set[str] = set()
    where = _DocumentOrder(obj)
    located = sorted(((tuple(float(i) for i in where(tuple(u["loc"]))), tuple(u["loc"]))
                      for u in unknown), key=lambda item: item[0])  # fmt: skip
    if not duplicates:
        located = located[:MAX_STRICT_ERRORS]  # only the first are listed
    for order, loc in located:
        path = _locate(model, loc).field
        unknown_paths.add(path)
        found.append((order, errors.Cause(path, UNKNOWN_FIELD, f'unknown field "{path}"')))
    lines = [d for d in duplicates if d.line]
    for d in duplicates:
        if d.line or not unknown_paths.isdisjoint(_ancestors(d.field)):
            continue
        found.append((d.order, errors.Cause(d.field, DUPLICATE_FIELD, d.message)))
    found.sort(key=lambda item: item[0])
    causes = [c for _, c in found]
    if lines:
        text = "yaml: unmarshal errors:\n  " + "\n  ".join(d.message for d in lines)
        causes.insert(0, errors.Cause("", DUPLICATE_FIELD, text))
    return list(dict.fromkeys(causes))[:MAX_STRICT_ERRORS]


def _ancestors(path: str) -> list[str]:
    """``a.b[0].c`` → ``a``, ``a.b``, ``a.b[0]``, ``a.b[0].c``: the field and what holds it."""
    cuts = [i for i, ch in enumerate(path) if ch in ".["]
    return [path[:i] for i in cuts] + [path]


def strict_warnings(kind: str, obj: Any, duplicates: Sequence[Duplicate]) -> list[str]:
    """``fieldValidation=Warn``/``Ignore``: drop the unknown fields from ``obj`` and return the
    warnings kube-apiserver sends for them and for repeated keys, in its order."""
    model = SCHEMAS[kind]
    unknown: list[ErrorDetails] = []
    if isinstance(obj, dict):
        try:
            model.model_validate(obj)
        except ValidationError as e:
            unknown = [d for d in e.errors() if d["type"] == "extra_forbidden"]
    causes = strict_causes(model, obj, unknown, duplicates)
    warnings = [d.message for d in duplicates if d.line]
    warnings += [c.message for c in causes if c.field]
    drop_unknown_fields(kind, obj)
    return warnings


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
    unknown.sort(key=_DocumentOrder(obj))
    paths = [_locate(model, loc).field for loc in unknown]
    for loc in unknown:
        parent: Any = obj
        for step in loc[:-1]:
            parent = parent[step]
        parent.pop(loc[-1], None)
    return paths
