"""Validation of ConfigMap and Secret, as pkg/apis/core/validation does it (ValidateConfigMap,
ValidateSecret and their updates): key names, the 1 MiB limit, the keys each Secret type needs,
``immutable``. Registers their schemas and validators with control.validation. Pure: no I/O.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import forbidden, invalid, required, too_long
from common.names import is_config_map_key
from common.wellknown import (
    DOCKER_CONFIG_JSON_KEY,
    DOCKERCFG_KEY,
    SECRET_BASIC_AUTH,
    SECRET_DOCKER_CONFIG_JSON,
    SECRET_DOCKERCFG,
    SECRET_OPAQUE,
    SECRET_SERVICE_ACCOUNT_TOKEN,
    SECRET_SSH_AUTH,
    SECRET_TLS,
    SERVICE_ACCOUNT_NAME_ANNOTATION,
    SSH_AUTH_PRIVATE_KEY,
    TLS_CERT_KEY,
    TLS_PRIVATE_KEY_KEY,
)
from control.validation.decode import register_schema
from control.validation.dispatch import register_validator
from control.validation.meta import (
    FIELD_IMMUTABLE,
    validate_object_meta,
    validate_object_meta_update,
)
from control.validation.schema_config import ConfigMap, Secret

Obj = Mapping[str, Any]

# core.MaxSecretSize: the most bytes of data a ConfigMap or Secret may hold (etcd's request limit
# leaves room for the rest of the object).
MAX_SIZE = 1 * 1024 * 1024
IMMUTABLE_SET = "field is immutable when `immutable` is set"
# The contents of a docker config never appear in a message.
REDACTED = "<secret contents redacted>"


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def decoded(value: Any) -> bytes:
    """The bytes of a base64 ``[]byte`` field (already checked by the schema)."""
    return base64.b64decode(str(value).replace("\r", "").replace("\n", ""))


def _keys(data: Mapping[str, Any], path: str) -> list[Cause]:
    return [invalid(f"{path}[{k}]", k, m) for k in data for m in is_config_map_key(k)]


def _meta(obj: Obj, old: Obj | None) -> list[Cause]:
    if old is None:
        return validate_object_meta(obj.get("metadata"), True, names.name_is_dns_subdomain)
    return validate_object_meta_update(obj.get("metadata"), old.get("metadata"))


def validate_config_map(cm: Obj, old: Obj | None = None) -> list[Cause]:
    causes = _meta(cm, old)
    if old is not None:
        causes.extend(_immutable(cm, old, ("data", "binaryData")))
    data, binary = _dict(cm.get("data")), _dict(cm.get("binaryData"))
    causes.extend(_keys(data, "data"))
    causes.extend(
        invalid(f"data[{k}]", k, "duplicate of key present in binaryData")
        for k in data
        if k in binary
    )
    causes.extend(_keys(binary, "binaryData"))
    size = sum(len(str(v).encode()) for v in data.values())
    size += sum(len(decoded(v)) for v in binary.values())
    if size > MAX_SIZE:
        causes.append(too_long("[]", MAX_SIZE))  # the whole object: kube-apiserver prints []
    return causes


def _immutable(obj: Obj, old: Obj, fields: tuple[str, ...]) -> list[Cause]:
    if old.get("immutable") is not True:
        return []
    causes = []
    if obj.get("immutable") is not True:
        causes.append(forbidden("immutable", IMMUTABLE_SET))
    for name in fields:
        if dict(_dict(obj.get(name))) != dict(_dict(old.get(name))):
            causes.append(forbidden(name, IMMUTABLE_SET))
    return causes


def validate_secret(secret: Obj, old: Obj | None = None) -> list[Cause]:
    causes = _meta(secret, old)
    if old is not None:
        if (secret.get("type") or "") != (old.get("type") or ""):
            causes.append(invalid("type", secret.get("type") or "", FIELD_IMMUTABLE))
        causes.extend(_immutable(secret, old, ("data",)))
    data = _dict(secret.get("data"))
    causes.extend(_keys(data, "data"))
    if sum(len(decoded(v)) for v in data.values()) > MAX_SIZE:
        causes.append(too_long("data", MAX_SIZE))
    causes.extend(_type_causes(secret, data))
    return causes


def _type_causes(secret: Obj, data: Mapping[str, Any]) -> list[Cause]:
    """The keys (or annotation) each built-in Secret type requires."""
    kind = secret.get("type") or SECRET_OPAQUE
    if kind == SECRET_SERVICE_ACCOUNT_TOKEN:
        annotations = _dict(_dict(secret.get("metadata")).get("annotations"))
        if not annotations.get(SERVICE_ACCOUNT_NAME_ANNOTATION):
            return [required(f"metadata.annotations[{SERVICE_ACCOUNT_NAME_ANNOTATION}]")]
    elif kind in (SECRET_DOCKERCFG, SECRET_DOCKER_CONFIG_JSON):
        key = DOCKERCFG_KEY if kind == SECRET_DOCKERCFG else DOCKER_CONFIG_JSON_KEY
        if key not in data:
            return [required(f"data[{key}]")]
        problem = _json_object_error(decoded(data[key]))
        if problem is not None:
            return [invalid(f"data[{key}]", REDACTED, problem)]
    elif kind == SECRET_BASIC_AUTH:
        if "username" not in data and "password" not in data:
            return [required("data[username]"), required("data[password]")]
    elif kind == SECRET_SSH_AUTH:
        if not data.get(SSH_AUTH_PRIVATE_KEY):
            return [required(f"data[{SSH_AUTH_PRIVATE_KEY}]")]
    elif kind == SECRET_TLS:
        keys = (TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY)
        return [required(f"data[{k}]") for k in keys if k not in data]
    return []


def _json_object_error(raw: bytes) -> str | None:
    """Go's json.Unmarshal error for bytes that are not a JSON object, or None."""
    try:
        value = json.loads(raw)
    except ValueError as e:
        pos = getattr(e, "pos", len(raw))
        text = raw.decode(errors="replace")
        if pos >= len(text.rstrip()):
            return "unexpected end of JSON input"
        where = "looking for beginning of value" if "Expecting value" in str(e) else "in JSON"
        return f"invalid character {text[pos]!r} {where}"
    if not isinstance(value, dict) and value is not None:
        kind = "array" if isinstance(value, list) else type(value).__name__
        kind = {"str": "string", "int": "number", "float": "number", "bool": "bool"}.get(kind, kind)
        return f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
    return None


register_schema("ConfigMap", ConfigMap)
register_schema("Secret", Secret)
register_validator("ConfigMap", validate_config_map)
register_validator("Secret", validate_secret)
