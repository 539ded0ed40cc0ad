"""The Swagger 2.0 document in the protobuf encoding client-go asks for
(``application/com.github.proto-openapi.spec.v2@v1.0+protobuf``): gnostic's ``openapi.v2.Document``
message, whose field numbers are those of gnostic's OpenAPIv2.proto. Only what the served
document uses is encoded: paths with their operations and parameters, and definitions with
types, formats, descriptions, references, properties, items, required fields and vendor
extensions (as YAML text, which JSON is). Pure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

# What a client asks for (client-go still sends the deprecated ``@`` spelling) and what the
# answer says it is (Go's mime parser refuses the ``@``), as kube-openapi's handler.
MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
ACCEPTED = (MEDIA_TYPE, "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
Obj = dict[str, Any]

# Operation fields by HTTP method (gnostic's PathItem).
METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _bytes(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _string(number: int, text: str) -> bytes:
    return _bytes(number, text.encode()) if text else b""


def _strings(number: int, texts: Iterable[str]) -> bytes:
    return b"".join(_bytes(number, t.encode()) for t in texts)


def _bool(number: int, value: bool) -> bytes:
    return _varint(number << 3) + b"\x01" if value else b""


def _extensions(number: int, obj: Obj) -> bytes:
    """``x-*`` keys as NamedAny {name, Any{yaml}}."""
    out = b""
    for key, value in obj.items():
        if key.startswith("x-"):
            yaml = json.dumps(value, separators=(",", ":"))
            out += _bytes(number, _string(1, key) + _bytes(2, _string(2, yaml)))
    return out


def schema(s: Obj) -> bytes:
    out = _string(1, s.get("$ref", ""))
    out += _string(2, s.get("format", ""))
    out += _string(4, s.get("description", ""))
    out += _strings(19, s.get("required", []))
    extra = s.get("additionalProperties")
    if isinstance(extra, dict):
        out += _bytes(21, _bytes(1, schema(extra)))
    elif isinstance(extra, bool):
        out += _bytes(21, _varint(2 << 3) + (b"\x01" if extra else b"\x00"))
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        out += _bytes(22, _strings(1, types))
    if "items" in s:
        out += _bytes(23, _bytes(1, schema(s["items"])))
    for part in s.get("allOf", []):
        out += _bytes(24, schema(part))
    if "properties" in s:
        named = b"".join(
            _bytes(1, _string(1, name) + _bytes(2, schema(prop)))
            for name, prop in s["properties"].items()
        )
        out += _bytes(25, named)
    return out + _extensions(31, s)


def _parameter(p: Obj) -> bytes:
    """A ParametersItem holding a Parameter (body, or query/path as a NonBodyParameter)."""
    if p["in"] == "body":
        body = _string(1, p.get("description", "")) + _string(2, p["name"]) + _string(3, "body")
        body += _bool(4, bool(p.get("required"))) + _bytes(5, schema(p.get("schema", {})))
        return _bytes(1, _bytes(1, body))
    common = _bool(1, bool(p.get("required"))) + _string(2, p["in"])
    common += _string(3, p.get("description", "")) + _string(4, p["name"])
    if p["in"] == "path":
        sub = 4
        common += _string(5, p.get("type", "")) + _string(6, p.get("format", ""))
    else:
        sub = 3
        common += _string(6, p.get("type", "")) + _string(7, p.get("format", ""))
        common += _bool(20, bool(p.get("uniqueItems")))
    return _bytes(1, _bytes(2, _bytes(sub, common)))


def _operation(op: Obj) -> bytes:
    out = _string(3, op.get("description", "")) + _string(5, op.get("operationId", ""))
    out += _strings(6, op.get("produces", [])) + _strings(7, op.get("consumes", []))
    out += b"".join(_bytes(8, _parameter(p)) for p in op.get("parameters", []))
    codes = b""
    for code, response in op.get("responses", {}).items():
        value = _string(1, response.get("description", ""))
        if "schema" in response:
            value += _bytes(2, _bytes(1, schema(response["schema"])))
        codes += _bytes(1, _string(1, code) + _bytes(2, _bytes(1, value)))
    out += _bytes(9, codes)
    return out + _extensions(13, op)


def _path_item(item: Obj) -> bytes:
    out = b""
    for method, number in METHODS.items():
        if method in item:
            out += _bytes(number, _operation(item[method]))
    out += b"".join(_bytes(9, _parameter(p)) for p in item.get("parameters", []))
    return out


def document(doc: Obj) -> bytes:
    """The gnostic ``Document`` of a Swagger 2.0 document as ``control.apiserver.openapi``
    builds it."""
    info = doc.get("info", {})
    out = _string(1, doc["swagger"])
    out += _bytes(2, _string(1, info.get("title", "")) + _string(2, info.get("version", "")))
    paths = b"".join(
        _bytes(2, _string(1, path) + _bytes(2, _path_item(item)))
        for path, item in doc.get("paths", {}).items()
    )
    out += _bytes(8, paths)
    definitions = b"".join(
        _bytes(1, _string(1, name) + _bytes(2, schema(s)))
        for name, s in doc.get("definitions", {}).items()
    )
    return out + _bytes(9, definitions)
