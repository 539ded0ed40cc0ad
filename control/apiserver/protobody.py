"""Request bodies in Kubernetes' protobuf encoding (``application/vnd.kubernetes.protobuf``),
turned into the JSON object the registry takes. kubectl's typed clients send them (``kubectl
create deployment``, ``create namespace``); every other path of tinykube speaks JSON.

The body is the magic ``k8s\\x00`` and a ``runtime.Unknown`` holding the apiVersion, the kind and
the object's own encoding, read with the field numbers of ``control.apiserver.protoschema``. A
field tinykube does not know is accepted only with its zero value; anything else is a 415 that
names the field, so nothing sent is silently lost. Pure.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from functools import cache
from typing import Any

from common import errors
from control.apiserver.protoschema import ANY_VERSION_ROOTS, MESSAGES, ROOTS

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
# Wire types of the protobuf encoding.
VARINT, FIXED64, BYTES, FIXED32 = 0, 1, 2, 5
_ZERO = object()

# Map kinds of the schema and the kind of their values.
MAPS = {"map": "s", "qmap": "q", "bmap": "bytes"}

Field = tuple[str, str, bool]  # json name, kind, keep a zero value (a Go pointer)


def _fail(message: str) -> errors.UnsupportedMediaTypeError:
    return errors.UnsupportedMediaTypeError(
        f"{message}; send the object as application/json instead"
    )


@cache
def _schema(message: str) -> dict[int, Field]:
    out = {}
    for entry in MESSAGES[message].split():
        number, name, kind = entry.split(":")
        out[int(number)] = (name.rstrip("?"), kind, name.endswith("?"))
    return out


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise _fail("the protobuf body is truncated")
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not byte & 0x80:
            return value, i


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of each field of one message."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, i = _varint(data, i)
            yield number, wire, value
        elif wire in (BYTES, FIXED64, FIXED32):
            size = {FIXED64: 8, FIXED32: 4}.get(wire)
            if size is None:
                size, i = _varint(data, i)
            if i + size > len(data):
                raise _fail("the protobuf body is truncated")
            yield number, wire, data[i : i + size]
            i += size
        else:
            raise _fail(f"the protobuf body has a field of wire type {wire}")


def _is_zero(value: int | bytes) -> bool:
    """A zero value, or a message whose fields are all zero (an unset struct)."""
    if isinstance(value, int):
        return value == 0
    if not any(value):
        return True
    try:
        return all(_is_zero(v) for _, _, v in fields(value))
    except errors.UnsupportedMediaTypeError:
        return False


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _time(data: bytes) -> str | object:
    parts = {n: v for n, _, v in fields(data) if isinstance(v, int)}
    if not parts:
        return _ZERO
    t = dt.datetime.fromtimestamp(_signed(parts.get(1, 0)), dt.UTC)
    nanos = parts.get(2, 0)
    frac = f".{nanos // 1000:06d}" if nanos else ""
    return t.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def _text(value: int | bytes | None) -> str:
    return value.decode() if isinstance(value, bytes) else ""


def _number(value: int | bytes | None) -> int:
    return _signed(value) if isinstance(value, int) else 0


def _entry(data: bytes, path: str, value_kind: str) -> dict[str, Any]:
    parts = {n: v for n, _, v in fields(data)}
    value = _scalar(value_kind, parts.get(2, b""), path)
    return {_text(parts.get(1)): "" if value is _ZERO else value}


def _intstr(data: bytes) -> Any:
    parts = {n: v for n, _, v in fields(data)}
    return _text(parts.get(3)) if parts.get(1) == 1 else _number(parts.get(2))


def _scalar(kind: str, value: int | bytes, path: str) -> Any:
    """One value of a field; ``_ZERO`` for the zero value."""
    if kind in MESSAGES:
        if not isinstance(value, bytes):
            raise _fail(f"{path}: expected a message")
        obj = decode_message(kind, value, path)
        return obj or _ZERO
    if isinstance(value, int):
        if kind == "b":
            return bool(value) or _ZERO
        if kind == "i":
            return _signed(value) or _ZERO
        raise _fail(f"{path}: unexpected integer")
    if kind == "s":
        return value.decode() or _ZERO
    if kind == "time":
        return _time(value)
    if kind == "q":
        return _text({n: v for n, _, v in fields(value)}.get(1)) or _ZERO
    if kind == "intstr":
        return _intstr(value)
    if kind == "bytes":
        return base64.b64encode(value).decode() or _ZERO
    if kind in MAPS:
        return _entry(value, path, MAPS[kind])
    raise _fail(f"{path}: unexpected value")


def decode_message(message: str, data: bytes, path: str) -> dict[str, Any]:
    """One message as its JSON object, without the fields that hold their zero value."""
    schema = _schema(message)
    out: dict[str, Any] = {}
    for number, _, raw in fields(data):
        if number not in schema:
            if _is_zero(raw):
                continue
            raise _fail(f"{path}: field {number} of {message} is not supported by this server")
        name, kind, pointer = schema[number]
        repeated = kind.startswith("*")
        value = _scalar(kind.lstrip("*"), raw, f"{path}.{name}")
        if value is _ZERO:
            if repeated:
                value = {} if kind.lstrip("*") in MESSAGES else 0 if kind == "*i" else ""
            elif pointer:
                value = {"b": False, "i": 0, "s": ""}.get(kind, {})
            else:
                continue
        if kind in MAPS:
            out.setdefault(name, {}).update(value)
        elif repeated:
            out.setdefault(name, []).append(value)
        elif name == "handler":  # ProbeHandler is inlined in a Probe's JSON
            out.update(value)
        else:
            out[name] = value
    return out


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf request body as the JSON object it encodes."""
    if not body.startswith(MAGIC):
        raise _fail("the protobuf body lacks the k8s\\x00 prefix")
    envelope = {n: v for n, _, v in fields(body[len(MAGIC) :])}
    type_meta = envelope.get(1, b"")
    meta = {n: v for n, _, v in fields(type_meta)} if isinstance(type_meta, bytes) else {}
    api_version, kind = _text(meta.get(1)), _text(meta.get(2))
    root = ROOTS.get((api_version, kind)) or ANY_VERSION_ROOTS.get(kind)
    if root is None:
        raise _fail(f"protobuf bodies of {kind or 'this kind'} ({api_version}) are not supported")
    raw = envelope.get(2, b"")
    obj = decode_message(root, raw if isinstance(raw, bytes) else b"", kind)
    return {"apiVersion": api_version, "kind": kind, **obj}
