"""Field errors as Kubernetes words them (k8s.io/apimachinery/pkg/util/validation/field).

Each builder returns an ``errors.Cause`` whose ``message`` is Kubernetes' ``ErrorBody()``
(``Invalid value: "Foo": <detail>``), whose ``reason`` is the CauseType (``FieldValueInvalid``)
and whose ``field`` is the path (``spec.containers[0].image``). Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from common import names
from common.errors import Cause

INVALID = "FieldValueInvalid"
REQUIRED = "FieldValueRequired"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
NOT_FOUND = "FieldValueNotFound"
TOO_MANY = "FieldValueTooMany"


def format_value(value: Any) -> str:
    """A bad value as Kubernetes prints it: strings quoted, numbers bare, maps/lists as JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def _body(kind: str, value: str | None, detail: str) -> str:
    text = kind if value is None else f"{kind}: {value}"
    return f"{text}: {detail}" if detail else text


def invalid(path: str, value: Any, detail: str = "") -> Cause:
    return Cause(path, INVALID, _body("Invalid value", format_value(value), detail))


def required(path: str, detail: str = "") -> Cause:
    return Cause(path, REQUIRED, _body("Required value", None, detail))


def not_supported(path: str, value: Any, supported: Iterable[str]) -> Cause:
    detail = ", ".join(json.dumps(v) for v in supported)
    detail = f"supported values: {detail}" if detail else ""
    return Cause(path, NOT_SUPPORTED, _body("Unsupported value", format_value(value), detail))


def duplicate(path: str, value: Any) -> Cause:
    return Cause(path, DUPLICATE, _body("Duplicate value", format_value(value), ""))


def forbidden(path: str, detail: str) -> Cause:
    return Cause(path, FORBIDDEN, _body("Forbidden", None, detail))


def too_long(path: str, max_bytes: int) -> Cause:
    return Cause(path, TOO_LONG, _body("Too long", None, f"must have at most {max_bytes} bytes"))


def too_many(path: str, actual: int, maximum: int) -> Cause:
    items = "item" if maximum == 1 else "items"
    return Cause(
        path, TOO_MANY, _body("Too many", str(actual), f"must have at most {maximum} {items}")
    )


def not_found(path: str, value: Any) -> Cause:
    return Cause(path, NOT_FOUND, _body("Not found", format_value(value), ""))


def error_string(cause: Cause) -> str:
    """``<field>: <body>``, one element of an ``is invalid: [...]`` message."""
    return f"{cause.field}: {cause.message}"


def aggregate(causes: Iterable[Cause]) -> str:
    """Kubernetes' aggregate error text: one message, or ``[m1, m2]`` without duplicates."""
    msgs = list(dict.fromkeys(error_string(c) for c in causes))
    return msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"


def validate_label_name(key: str, path: str) -> list[Cause]:
    return [invalid(path, key, m) for m in names.is_qualified_name(key)]


def validate_labels(labels: Mapping[str, Any], path: str) -> list[Cause]:
    """ValidateLabels: keys are qualified names, values label values; errors at ``path``."""
    causes: list[Cause] = []
    for key, value in labels.items():
        causes.extend(validate_label_name(key, path))
        if isinstance(value, str):
            causes.extend(invalid(path, value, m) for m in names.is_label_value(value))
    return causes
