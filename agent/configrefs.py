"""The ConfigMaps and Secrets a pod uses (env, envFrom, volumes, projected sources), their data
as bytes, and the kubelet's not-found error (``configmap "x" not found``: its object caches name
the resource in the singular). Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

from common import podrefs

CONFIGMAP = "configmap"
SECRET = "secret"

Ref = tuple[str, str]  # (kind, name) in the pod's namespace
# The object of that kind and name in the pod's namespace, or None when there is none.
Lookup = Callable[[str, str], Mapping[str, Any] | None]


class MissingObjectError(LookupError):
    """A ConfigMap or Secret a pod needs does not exist (the kubelet's NotFound)."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f'{kind} "{name}" not found')
        self.kind = kind
        self.name = name


def fetch(lookup: Lookup, kind: str, name: str, optional: bool) -> Mapping[str, Any] | None:
    """The object, None when it is absent and ``optional``; raise ``MissingObjectError``."""
    obj = lookup(kind, name)
    if obj is None and not optional:
        raise MissingObjectError(kind, name)
    return obj


def data_of(kind: str, obj: Mapping[str, Any] | None) -> dict[str, bytes]:
    """Every key of the object as bytes: a ConfigMap's ``data`` and ``binaryData``, a Secret's
    ``data`` (base64 on the wire)."""
    if obj is None:
        return {}
    out: dict[str, bytes] = {}
    if kind == CONFIGMAP:
        out = {str(k): str(v).encode() for k, v in (obj.get("data") or {}).items()}
        for k, v in (obj.get("binaryData") or {}).items():
            out[str(k)] = _b64(v)
        return out
    return {str(k): _b64(v) for k, v in (obj.get("data") or {}).items()}


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        return str(value).encode()


def references(pod: Mapping[str, Any]) -> set[Ref]:
    """Every (kind, name) the pod's containers and volumes read (what the Node authorizer lets
    this node read)."""
    refs = {(CONFIGMAP, name) for name in podrefs.config_map_names(pod)}
    return refs | {(SECRET, name) for name in podrefs.secret_names(pod)}
