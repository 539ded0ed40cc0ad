"""The JSON schema of core/v1 ConfigMap and Secret as strict pydantic models named after their Go
types (k8s.io/api/core/v1/types.go). ``data`` of a Secret and ``binaryData`` of a ConfigMap are
Go ``[]byte``: base64 in JSON, refused with Go's decoder's message when they are not. Pure.
"""

from __future__ import annotations

import binascii
from typing import Annotated, Any

from pydantic import PlainValidator
from pydantic_core import PydanticCustomError

from control.validation.schema import (
    JSON_TYPE,
    K8S_MESSAGE,
    GoType,
    ObjectMeta,
    StrMap,
    TypeMeta,
)

_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def base64_error(text: str) -> str | None:
    """Go's ``illegal base64 data at input byte N`` for text that is not standard, padded base64
    (Go skips CR and LF), or None when it is."""
    raw = text.encode()
    kept = [(i, b) for i, b in enumerate(raw) if b not in b"\r\n"]
    data = bytes(b for _, b in kept)
    body = data.rstrip(b"=")
    pad = len(data) - len(body)
    for j, b in enumerate(body):
        if b not in _ALPHABET:
            return f"illegal base64 data at input byte {kept[j][0]}"
    if pad > 2 or (len(data) % 4 != 0) or (pad and len(body) % 4 in (0, 1)):
        at = kept[len(body)][0] if pad else len(raw)
        if not pad and len(body) % 4 == 1:
            at = kept[len(body) - 1][0]
        return f"illegal base64 data at input byte {at}"
    try:
        binascii.a2b_base64(data, strict_mode=True)
    except binascii.Error:
        return f"illegal base64 data at input byte {len(raw)}"
    return None


def _bytes(value: Any) -> Any:
    if not isinstance(value, str):
        raise PydanticCustomError(JSON_TYPE, "bytes", {"go_type": "[]uint8"})
    problem = base64_error(value)
    if problem is not None:
        raise PydanticCustomError(K8S_MESSAGE, problem)
    return value


Bytes = Annotated[Any, PlainValidator(_bytes), GoType("[]uint8")]


class ConfigMap(TypeMeta):
    metadata: ObjectMeta | None = None
    immutable: bool | None = None
    data: StrMap | None = None
    binary_data: dict[str, Bytes] | None = None


class Secret(TypeMeta):
    metadata: ObjectMeta | None = None
    immutable: bool | None = None
    data: dict[str, Bytes] | None = None
    string_data: StrMap | None = None
    type: str | None = None
